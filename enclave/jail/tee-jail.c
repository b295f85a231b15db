/*
 * tee-jail: runs a tee-compile build command with less power than the worker that starts it.
 *
 *   tee-jail --uid <n> --gid <n> -- <program> [<argument>...]
 *
 * Inside an enclave the worker runs as root beside /dev/nsm, the device that signs attestation
 * documents, and beside the vsock bridge to the parent instance. The build command comes from the
 * request and is not trusted: were it to run with the worker's powers it could ask the NSM for a
 * document over provenance of its own making, reach the host over vsock, or rewrite the outputs
 * after the worker hashed them. tee-jail takes those powers away before it runs the command:
 *
 *  1. new pid, network, mount, IPC and UTS namespaces: the command sees neither the worker's
 *     processes nor its loopback (where the worker and the bridge listen);
 *  2. in them: mounts made private, a /proc of the new pid namespace, loopback up, a fixed
 *     host name;
 *  3. an init, pid 1 of the namespace, that reaps orphans and exits with the command's status;
 *     when it exits the kernel kills whatever the command left running, so nothing it started
 *     outlives it;
 *  4. in the command's process: supplementary groups dropped, group and user ids set (real,
 *     effective and saved) to --gid and --uid, a return to root checked impossible, no_new_privs,
 *     and a seccomp filter: system calls of other ABIs fail with EPERM, socket(AF_VSOCK, ...)
 *     with EACCES, io_uring_setup with ENOSYS (its requests would bypass the filter);
 *     descriptors above 2 closed;
 *  5. exec of the program (searched in PATH).
 *
 * Every step fails closed: if any cannot be done, nothing runs. /dev/nsm itself is made 0600
 * root by the worker, so the command (another user) cannot open it.
 *
 * Exit status: the command's; 128+n when it was killed by signal n; 125 when the jail could not
 * be made (the reason on stderr); 126 when the program cannot be executed, 127 when not found.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)
#define JAIL_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define JAIL_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "tee-jail supports x86_64 and aarch64 (the architectures of Nitro Enclaves)"
#endif

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif
/* x86_64: system call numbers of the x32 ABI carry this bit. */
#define JAIL_X32_SYSCALL_BIT 0x40000000U

#define EXIT_JAIL 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

static const char HOSTNAME[] = "tee-compile";

static void fail(const char *what) {
  fprintf(stderr, "tee-jail: %s: %s\n", what, strerror(errno));
  _exit(EXIT_JAIL);
}

static void usage(const char *why) {
  fprintf(stderr,
          "tee-jail: %s\n"
          "usage: tee-jail --uid <n> --gid <n> -- <program> [<argument>...]\n",
          why);
  exit(EXIT_JAIL);
}

/* A user or group id other than root's, or exits. */
static unsigned int parse_id(const char *flag, const char *text) {
  char *end = NULL;
  errno = 0;
  unsigned long v = strtoul(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || text[0] == '+' || v == 0 ||
      v >= 4294967295UL) {
    fprintf(stderr, "tee-jail: %s must be a number from 1 to 4294967294, not \"%s\"\n", flag, text);
    exit(EXIT_JAIL);
  }
  return (unsigned int)v;
}

/* Loopback up in the new network namespace (builds may serve and test on 127.0.0.1). */
static void loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail("socket for loopback");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) fail("loopback flags");
  ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP);
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) fail("loopback up");
  close(s);
}

static void close_other_descriptors(void) {
  struct rlimit rl;
  long max = 1024;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    max = rl.rlim_cur > 65536 ? 65536 : (long)rl.rlim_cur;
  for (long fd = 3; fd < max; fd++) close((int)fd);
}

static void drop_privileges(unsigned int uid, unsigned int gid) {
  if (setgroups(0, NULL) != 0) fail("setgroups");
  if (setresgid(gid, gid, gid) != 0) fail("setresgid");
  if (setresuid(uid, uid, uid) != 0) fail("setresuid");
  uid_t r, e, s;
  gid_t rg, eg, sg;
  if (getresuid(&r, &e, &s) != 0 || r != uid || e != uid || s != uid) fail("user ids not set");
  if (getresgid(&rg, &eg, &sg) != 0 || rg != gid || eg != gid || sg != gid)
    fail("group ids not set");
  if (setuid(0) == 0 || seteuid(0) == 0) {
    errno = EPERM;
    fail("root could be regained");
  }
}

static void install_filter(void) {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, JAIL_AUDIT_ARCH, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#if defined(__x86_64__)
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, JAIL_X32_SYSCALL_BIT, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
#endif
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
      /* The family is an int: the kernel reads the low 32 bits (little-endian on both ABIs). */
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_VSOCK, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {
      .len = (unsigned short)(sizeof filter / sizeof filter[0]),
      .filter = filter,
  };
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("no_new_privs");
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) fail("seccomp filter");
}

/* The command's process: powers dropped, then exec. */
static void run_command(char **argv, unsigned int uid, unsigned int gid) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail("parent-death signal");
  close_other_descriptors();
  drop_privileges(uid, gid);
  install_filter();
  execvp(argv[0], argv);
  int err = errno;
  fprintf(stderr, "tee-jail: cannot run %s: %s\n", argv[0], strerror(err));
  _exit(err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
}

/* pid 1 of the new namespace: sets it up, starts the command, reaps, exits with its status. */
static void run_init(char **argv, unsigned int uid, unsigned int gid) {
  /* Should the outer process die, the namespace goes with it. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail("parent-death signal");
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail("private mounts");
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
    fail("mount /proc");
  loopback_up();
  if (sethostname(HOSTNAME, sizeof HOSTNAME - 1) != 0) fail("sethostname");
  pid_t cmd = fork();
  if (cmd < 0) fail("fork");
  if (cmd == 0) run_command(argv, uid, gid);
  for (;;) {
    int status = 0;
    pid_t p = waitpid(-1, &status, 0);
    if (p < 0) {
      if (errno == EINTR) continue;
      fail("waitpid");
    }
    if (p != cmd) continue; /* an orphan the command left */
    if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) _exit(128 + WTERMSIG(status));
  }
}

int main(int argc, char **argv) {
  long uid = -1, gid = -1;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    }
    if (i + 1 >= argc) usage("a flag without a value");
    if (strcmp(argv[i], "--uid") == 0)
      uid = parse_id("--uid", argv[++i]);
    else if (strcmp(argv[i], "--gid") == 0)
      gid = parse_id("--gid", argv[++i]);
    else
      usage("unknown flag");
  }
  if (uid < 0 || gid < 0) usage("--uid and --gid are required");
  if (i >= argc) usage("no program after --");
  if (geteuid() != 0) {
    errno = EPERM;
    fail("must start as root (it makes namespaces, then drops to --uid)");
  }

  if (unshare(CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS) != 0)
    fail("cannot make namespaces");
  pid_t init = fork();
  if (init < 0) fail("fork");
  if (init == 0) run_init(argv + i, (unsigned int)uid, (unsigned int)gid);
  for (;;) {
    int status = 0;
    pid_t p = waitpid(init, &status, 0);
    if (p < 0) {
      if (errno == EINTR) continue;
      fail("waitpid");
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  }
}
