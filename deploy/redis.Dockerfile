# Redis for a Chorus cluster: Debian bookworm's redis-server (7.0), on the same base as the
# node image, so that a machine without a registry can build it (scripts/base-image.sh).
#
#   docker build -f deploy/redis.Dockerfile -t chorus-redis .     (from the repository root)
#
# Chorus keeps no state worth saving (names, rooms and members are rebuilt by the nodes
# after a Redis restart, see docs/cluster.md), so persistence is off.

ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get -q update \
 && apt-get -q install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/*
USER redis:redis
WORKDIR /var/lib/redis
EXPOSE 6379
HEALTHCHECK --interval=2s --timeout=3s --retries=10 CMD ["redis-cli", "ping"]
# --protected-mode no: without a password, Redis would refuse every client that is not on
# loopback, i.e. every node. Only the compose network reaches this port; never publish it.
CMD ["redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
