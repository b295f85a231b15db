/*
 * Test stand-in for the Nitro NSM driver, loaded with LD_PRELOAD into tee-nsm.
 *
 * It intercepts open("/dev/nsm") and the NSM ioctl, and behaves as Linux drivers/misc/nsm.c does
 * towards user space: reads the argument as the kernel does (four u64: request addr/len, response
 * addr/len), refuses requests over 0x1000 bytes with EMSGSIZE, copies the request in, writes the
 * response out, and rewrites the response length to what it wrote (truncating to the buffer).
 *
 * Environment:
 *   TEE_NSM_SHIM_MODE      ok (default) | enoent | eacces | emsgsize | eio | badlen
 *   TEE_NSM_SHIM_RESPONSE  hex of the response CBOR (ok mode)
 *   TEE_NSM_SHIM_SOCKET    instead of a fixed response, relay the request to a Unix socket
 *                          (frame: u32 big-endian length, then the bytes; the answer likewise),
 *                          where a test serves it with the software NSM
 *   TEE_NSM_SHIM_LOG       file the shim appends what it saw to (key=value lines)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#define NSM_IOCTL 0xC0200A00UL
#define NSM_REQUEST_MAX_SIZE 0x1000
#define EXPECTED_RESPONSE_CAPACITY 0x3000

static int nsm_fd = -1;

static const char *mode(void) {
  const char *m = getenv("TEE_NSM_SHIM_MODE");
  return m == NULL ? "ok" : m;
}

static void logf_(const char *fmt, ...) {
  const char *path = getenv("TEE_NSM_SHIM_LOG");
  if (path == NULL) return;
  FILE *f = fopen(path, "a");
  if (f == NULL) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  fclose(f);
}

typedef int (*open_fn)(const char *, int, ...);

static int real_open(const char *path, int flags, mode_t m) {
  open_fn next = (open_fn)dlsym(RTLD_NEXT, "open");
  return next(path, flags, m);
}

static int fake_open(const char *path, int flags, mode_t m) {
  if (strcmp(path, "/dev/nsm") != 0) return real_open(path, flags, m);
  logf_("open_flags=%d\n", flags);
  if (strcmp(mode(), "enoent") == 0) {
    errno = ENOENT;
    return -1;
  }
  if (strcmp(mode(), "eacces") == 0) {
    errno = EACCES;
    return -1;
  }
  if ((flags & O_ACCMODE) != O_RDWR) {
    logf_("error=/dev/nsm must be opened O_RDWR\n");
    errno = EINVAL;
    return -1;
  }
  nsm_fd = real_open("/dev/null", O_RDWR | O_CLOEXEC, 0);
  return nsm_fd;
}

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) != 0 ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t m = mode_arg(flags, ap);
  va_end(ap);
  return fake_open(path, flags, m);
}

int open64(const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t m = mode_arg(flags, ap);
  va_end(ap);
  return fake_open(path, flags, m);
}

int __open_2(const char *path, int flags) { return fake_open(path, flags, 0); }
int __open64_2(const char *path, int flags) { return fake_open(path, flags, 0); }

static size_t unhex(const char *s, uint8_t *out, size_t cap) {
  size_t n = 0;
  while (s[0] != '\0' && s[1] != '\0' && n < cap) {
    unsigned int b;
    if (sscanf(s, "%2x", &b) != 1) break;
    out[n++] = (uint8_t)b;
    s += 2;
  }
  return n;
}


static int io_all(int fd, uint8_t *buf, size_t len, int writing) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = writing ? write(fd, buf + done, len - done) : read(fd, buf + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    done += (size_t)n;
  }
  return 0;
}

/* Sends the request to the socket at `path` and reads the answer into `out`; returns its length
 * or -1. */
static long relay(const char *path, const uint8_t *req, uint32_t len, uint8_t *out, size_t cap) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  uint8_t head[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
  long result = -1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0 && io_all(fd, head, 4, 1) == 0 &&
      io_all(fd, (uint8_t *)req, len, 1) == 0 && io_all(fd, head, 4, 0) == 0) {
    uint32_t n = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
    if (n <= cap && io_all(fd, out, n, 0) == 0) result = (long)n;
  }
  close(fd);
  return result;
}

typedef int (*ioctl_fn)(int, unsigned long, ...);

int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  if (fd != nsm_fd || nsm_fd < 0) {
    ioctl_fn next = (ioctl_fn)dlsym(RTLD_NEXT, "ioctl");
    return next(fd, request, arg);
  }
  logf_("ioctl_cmd=0x%lX\n", request);
  if (request != NSM_IOCTL || arg == NULL) {
    logf_("error=unexpected ioctl command or null argument\n");
    errno = ENOTTY;
    return -1;
  }
  /* The driver copies the argument as four u64 (struct nsm_raw = two struct nsm_iovec). */
  uint64_t raw[4];
  memcpy(raw, arg, sizeof raw);
  uint64_t req_addr = raw[0], req_len = raw[1], resp_addr = raw[2], resp_len = raw[3];
  logf_("request_len=%llu\nresponse_capacity=%llu\n", (unsigned long long)req_len,
        (unsigned long long)resp_len);
  if (req_addr == 0 || resp_addr == 0) {
    logf_("error=null buffer address\n");
    errno = EFAULT;
    return -1;
  }
  if (resp_len != EXPECTED_RESPONSE_CAPACITY) logf_("error=response capacity is not 0x3000\n");
  if (req_len > NSM_REQUEST_MAX_SIZE || strcmp(mode(), "emsgsize") == 0) {
    errno = EMSGSIZE;
    return -1;
  }
  if (strcmp(mode(), "eio") == 0) {
    errno = EIO;
    return -1;
  }
  const uint8_t *req = (const uint8_t *)(uintptr_t)req_addr;
  char line[2 * NSM_REQUEST_MAX_SIZE + 1];
  for (uint64_t i = 0; i < req_len; i++) snprintf(line + 2 * i, 3, "%02x", req[i]);
  line[2 * req_len] = '\0';
  logf_("request=%s\n", line);

  static uint8_t resp[0x10000];
  size_t n;
  const char *sock = getenv("TEE_NSM_SHIM_SOCKET");
  if (sock != NULL) {
    long got = relay(sock, req, (uint32_t)req_len, resp, sizeof resp);
    if (got < 0) {
      logf_("error=relay to %s failed\n", sock);
      errno = EIO;
      return -1;
    }
    n = (size_t)got;
  } else {
    const char *hex = getenv("TEE_NSM_SHIM_RESPONSE");
    n = hex == NULL ? 0 : unhex(hex, resp, sizeof resp);
  }
  size_t written = n < resp_len ? n : (size_t)resp_len;
  memcpy((void *)(uintptr_t)resp_addr, resp, written);
  raw[3] = strcmp(mode(), "badlen") == 0 ? resp_len + 1 : written;
  memcpy(arg, raw, sizeof raw);
  return 0;
}
