# syntax=docker/dockerfile:1
#
# The one Waymark image. Every deployment runs this binary with a different command:
#   waymark serve frontend|history|matching|timer|all   (distributed: PostgreSQL + Redis)
#   waymark migrate                                     (one-shot schema migration)
#   waymark start-dev --ip 0.0.0.0                      (the default: everything in one
#                                                        process on in-memory SQLite)
#
# Build:  docker build -t waymark:dev .
# Try:    docker run --rm -p 7243:7243 -p 7233:7233 waymark:dev
#         (HTTP API on 7243, Temporal's gRPC API on 7233)
#
# Needs BuildKit (the default builder of current Docker) for the cache mounts below.

# Rust toolchain of the builder. The workspace uses edition 2024, so 1.85 at least.
ARG RUST_VERSION=1
# Builder and runtime must share the Debian release (the binary links the system glibc).
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder

WORKDIR /src
COPY . .

# The cargo registry, git checkouts and target/ live in BuildKit cache mounts, so a rebuild
# only recompiles what changed. Cache mounts are not part of the image: the binary is copied
# out of target/ within the same RUN.
RUN --mount=type=cache,id=waymark-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=waymark-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=waymark-target,target=/src/target,sharing=locked \
    cargo build --release --locked -p waymark \
    && install -D -m 0755 target/release/waymark /out/waymark

# ---------------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime

# ca-certificates: for TLS connections to a managed PostgreSQL or Redis.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# A fixed numeric uid/gid, so that Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 waymark \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin waymark

COPY --from=builder /out/waymark /usr/local/bin/waymark

LABEL org.opencontainers.image.title="waymark" \
      org.opencontainers.image.description="Waymark: a durable execution server" \
      org.opencontainers.image.licenses="Apache-2.0"

# The process writes nothing to disk in the distributed deployment (the root filesystem
# may be read-only); start-dev with --db needs a writable volume for its SQLite file.
WORKDIR /tmp
USER 10001:10001

# Every port the image's services listen on by default (see docker-compose.yml and k8s/):
#   7243  the public HTTP API (serve frontend|all: WAYMARK_LISTEN; start-dev: --port)
#   7233  Temporal's gRPC API (serve frontend|all: WAYMARK_GRPC_LISTEN; start-dev: --grpc-port)
#   7234  history, 7235 matching, 7239 timer: internal (WAYMARK_LISTEN)
EXPOSE 7233 7234 7235 7239 7243

# No HEALTHCHECK here: the port depends on the service the container runs. Compose and
# Kubernetes probe /readyz and /healthz themselves.
ENTRYPOINT ["waymark"]
CMD ["start-dev", "--ip", "0.0.0.0"]
