#!/bin/sh
# Removes what apt and dpkg leave behind that differs from build to build (downloaded lists,
# caches, logs with dates), so that the image content depends only on the recipe.
set -eu
rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/lib/dpkg/*-old \
  /var/cache/ldconfig/aux-cache /var/log/apt /var/log/dpkg.log /var/log/alternatives.log \
  /var/log/bootstrap.log
