#!/bin/sh
# The command of the minimal image (recipe.json cmd): the worker on Debian's nodejs.
#
# Nitro's init runs the image CMD as root with cwd / and ignores ENTRYPOINT when CMD is set,
# WORKDIR and USER (aws-nitro-enclaves-sdk-bootstrap init/init.c; nitro-cli enclave_build
# docker.rs); the enclave ends when this process exits.
set -eu

# init configures no network: bring up loopback so the bridge can reach the worker.
ip link set lo up

mkdir -p /tmp/tee-compile/build

# The host reaches the worker over vsock port 5000 (socat >= 1.7.4 has VSOCK). Each connection is
# forked to TCP 127.0.0.1:5000, where the worker listens; a connection that arrives before the
# worker listens is closed and the host retries.
socat VSOCK-LISTEN:5000,fork,reuseaddr TCP:127.0.0.1:5000 &

exec /usr/bin/node /opt/tee-compile/worker.mjs \
  --listen 127.0.0.1:5000 \
  --nsm device \
  --nsm-helper /usr/local/bin/tee-nsm \
  --jail /usr/local/bin/tee-jail \
  --image /opt/tee-compile/image.json \
  --workspace /tmp/tee-compile/build
