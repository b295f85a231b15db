/*
 * What a build command could try inside an enclave, each attempt printed as name=result, where
 * result is "ok" or the errno number. Used by the jail tests, inside and outside tee-jail.
 *   jail-probe <root-only file> <host TCP port>
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static void result(const char *name, long r) {
  if (r < 0)
    printf("%s=%d\n", name, errno);
  else
    printf("%s=ok\n", name);
}

static int tcp_connect(unsigned short port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int r = connect(s, (struct sockaddr *)&a, sizeof a);
  int e = errno;
  close(s);
  errno = e;
  return r;
}

/* Listens on 127.0.0.1 and connects to itself: loopback works in the namespace. */
static int self_connect(void) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  if (l < 0) return -1;
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 1) != 0 ||
      getsockname(l, (struct sockaddr *)&a, &len) != 0)
    return -1;
  int r = tcp_connect(ntohs(a.sin_port));
  close(l);
  return r;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: jail-probe <root-only file> <host TCP port>\n");
    return 2;
  }
  printf("uid=%u\ngid=%u\ngroups=%d\n", getuid(), getgid(), getgroups(0, NULL));
  result("setuid0", setuid(0));
  result("open", open(argv[1], O_RDWR));
  result("vsock", socket(AF_VSOCK, SOCK_STREAM, 0));
  /* The family with high bits set: the kernel reads an int, the filter must too. */
  result("vsock_high", syscall(SYS_socket, 0x100000000L | AF_VSOCK, SOCK_STREAM, 0));
  result("inet", socket(AF_INET, SOCK_STREAM, 0));
  unsigned char params[120];
  memset(params, 0, sizeof params);
  result("io_uring", syscall(425, 1, params));
#if defined(__x86_64__)
  result("x32", syscall(0x40000000L | SYS_getpid));
#endif
  result("host_tcp", tcp_connect((unsigned short)atoi(argv[2])));
  result("self_tcp", self_connect());
  printf("no_new_privs=%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  printf("seccomp=%d\n", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
  return 0;
}
