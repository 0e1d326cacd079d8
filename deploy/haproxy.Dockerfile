# HAProxy in front of a Chorus cluster: Debian bookworm's haproxy (2.6) with
# deploy/haproxy.cfg, on the same base as the node image, so that a machine without a
# registry can build it (scripts/base-image.sh).
#
#   docker build -f deploy/haproxy.Dockerfile -t chorus-haproxy .   (from the repository root)
#
# Its nodes come from the environment (see haproxy.cfg): NODE1_ADDR.. for a fixed list, or
# NODES_FQDN for a DNS name with one address per node (docker-compose.yml: the `node`
# service, which follows --scale).

ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get -q update \
 && apt-get -q install -y --no-install-recommends haproxy socat \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o haproxy -g haproxy -m 0750 /run/haproxy
COPY deploy/haproxy.cfg /etc/haproxy/haproxy.cfg
# The runtime API, e.g. which nodes are up:
#   docker-compose -f deploy/docker-compose.yml exec haproxy \
#     sh -c 'echo "show servers state" | socat stdio /run/haproxy/admin.sock'
ENV HAPROXY_STATS_SOCKET=/run/haproxy/admin.sock
USER haproxy:haproxy
EXPOSE 9875 8080
# -W: master-worker (reloads with SIGUSR2), -db: stays in the foreground. SIGTERM (docker
# stop) stops at once: chat sessions last for hours, a graceful stop would only run into
# the stop timeout.
STOPSIGNAL SIGTERM
ENTRYPOINT ["haproxy", "-W", "-db", "-f", "/etc/haproxy/haproxy.cfg"]
