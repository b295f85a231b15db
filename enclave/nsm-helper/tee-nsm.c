/*
 * tee-nsm: one request to the Nitro Secure Module, as a byte pipe.
 *
 * Reads one CBOR request (at most 4096 bytes) from stdin, passes it to /dev/nsm with the driver's
 * single ioctl, and writes the CBOR response to stdout. It never looks inside the CBOR: building
 * requests and decoding responses is the worker's job (src/attestation/ in TypeScript).
 *
 * Interface (Linux include/uapi/linux/nsm.h, drivers/misc/nsm.c; aws-nitro-enclaves-nsm-api
 * src/driver/mod.rs; the out-of-tree nsm.ko of aws-nitro-enclaves-sdk-bootstrap):
 *   - open("/dev/nsm", O_RDWR)
 *   - ioctl(fd, _IOWR(0x0A, 0, struct nsm_raw), &raw) with
 *     struct nsm_raw { struct nsm_iovec request, response; } and
 *     struct nsm_iovec { __u64 addr; __u64 len; }
 *   - requests over 0x1000 bytes fail with EMSGSIZE; the response buffer is 0x3000 bytes and the
 *     driver rewrites response.len to the length of the CBOR it wrote.
 *
 * Exit status (stable; the worker maps them to its errors):
 *   0  the response was written to stdout
 *   2  usage: arguments were given
 *   3  no NSM device: /dev/nsm is missing (not inside a Nitro Enclave, or nsm.ko not loaded)
 *   4  /dev/nsm exists but could not be opened
 *   5  request too large (over 4096 bytes on stdin, or EMSGSIZE from the driver)
 *   6  the ioctl failed (errno printed)
 *   7  short read: stdin could not be read, or the request is empty
 *   8  short write: stdout could not take the whole response
 *   9  the driver reported a response length larger than the buffer
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/ioctl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define NSM_DEVICE "/dev/nsm"
#define NSM_MAX_REQUEST 0x1000  /* NSM_REQUEST_MAX_SIZE in drivers/misc/nsm.c */
#define NSM_MAX_RESPONSE 0x3000 /* NSM_RESPONSE_MAX_SIZE */

enum {
  EXIT_OK = 0,
  EXIT_USAGE = 2,
  EXIT_NO_DEVICE = 3,
  EXIT_OPEN_FAILED = 4,
  EXIT_TOO_LARGE = 5,
  EXIT_IOCTL_FAILED = 6,
  EXIT_SHORT_READ = 7,
  EXIT_SHORT_WRITE = 8,
  EXIT_BAD_RESPONSE = 9,
};

/* Same layout as struct nsm_iovec / struct nsm_raw of the uapi header, which older kernel
 * headers (before Linux 6.8) do not ship. */
struct tee_nsm_iovec {
  uint64_t addr;
  uint64_t len;
};

struct tee_nsm_raw {
  struct tee_nsm_iovec request;
  struct tee_nsm_iovec response;
};

#define TEE_NSM_IOCTL_REQUEST _IOWR(0x0A, 0, struct tee_nsm_raw)

_Static_assert(sizeof(struct tee_nsm_raw) == 32, "struct nsm_raw is 32 bytes");
_Static_assert(TEE_NSM_IOCTL_REQUEST == 0xC0200A00UL,
               "the NSM ioctl is _IOWR(0x0A, 0, 32-byte struct) = 0xC0200A00");

static int fail(int status, const char *what, int err) {
  if (err != 0)
    fprintf(stderr, "tee-nsm: %s: %s\n", what, strerror(err));
  else
    fprintf(stderr, "tee-nsm: %s\n", what);
  return status;
}

/* Reads all of stdin into buf; returns the length, or -1 (errno set) on a read error. One byte
 * more than the limit is accepted so that an oversized request can be told apart. */
static ssize_t read_request(uint8_t *buf, size_t cap) {
  size_t got = 0;
  while (got < cap) {
    ssize_t n = read(STDIN_FILENO, buf + got, cap - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break;
    got += (size_t)n;
  }
  return (ssize_t)got;
}

static int write_all(const uint8_t *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = write(STDOUT_FILENO, buf + done, len - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) {
      errno = EIO;
      return -1;
    }
    done += (size_t)n;
  }
  return 0;
}

int main(int argc, char **argv) {
  (void)argv;
  if (argc != 1) {
    fprintf(stderr,
            "usage: tee-nsm < request.cbor > response.cbor\n"
            "Passes one CBOR request (at most %d bytes) to " NSM_DEVICE " and prints the response.\n",
            NSM_MAX_REQUEST);
    return EXIT_USAGE;
  }

  static uint8_t request[NSM_MAX_REQUEST + 1];
  static uint8_t response[NSM_MAX_RESPONSE];

  ssize_t len = read_request(request, sizeof request);
  if (len < 0) return fail(EXIT_SHORT_READ, "cannot read the request from stdin", errno);
  if (len == 0) return fail(EXIT_SHORT_READ, "empty request on stdin", 0);
  if (len > NSM_MAX_REQUEST) {
    fprintf(stderr, "tee-nsm: request too large: more than %d bytes\n", NSM_MAX_REQUEST);
    return EXIT_TOO_LARGE;
  }

  int fd = open(NSM_DEVICE, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENODEV || err == ENXIO)
      return fail(EXIT_NO_DEVICE,
                  NSM_DEVICE " not available: not inside a Nitro Enclave, or the nsm driver is "
                             "not loaded",
                  err);
    return fail(EXIT_OPEN_FAILED, "cannot open " NSM_DEVICE, err);
  }

  struct tee_nsm_raw raw;
  memset(&raw, 0, sizeof raw);
  raw.request.addr = (uint64_t)(uintptr_t)request;
  raw.request.len = (uint64_t)len;
  raw.response.addr = (uint64_t)(uintptr_t)response;
  raw.response.len = sizeof response;

  if (ioctl(fd, TEE_NSM_IOCTL_REQUEST, &raw) < 0) {
    int err = errno;
    close(fd);
    /* The driver refuses requests over NSM_REQUEST_MAX_SIZE with EMSGSIZE (nsm_process_request
     * maps it to InputTooLarge in aws-nitro-enclaves-nsm-api). */
    if (err == EMSGSIZE) return fail(EXIT_TOO_LARGE, "request too large for the NSM", err);
    return fail(EXIT_IOCTL_FAILED, "NSM ioctl failed", err);
  }
  close(fd);

  if (raw.response.len > sizeof response) {
    fprintf(stderr, "tee-nsm: the driver reported a %llu-byte response for a %zu-byte buffer\n",
            (unsigned long long)raw.response.len, sizeof response);
    return EXIT_BAD_RESPONSE;
  }
  if (write_all(response, (size_t)raw.response.len) < 0)
    return fail(EXIT_SHORT_WRITE, "cannot write the response to stdout", errno);
  return EXIT_OK;
}
