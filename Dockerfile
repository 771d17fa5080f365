# syntax=docker/dockerfile:1.7
#
# One multi-stage build for every service binary of the workspace. Pick one with a target:
#
#   docker build --target redis-counter -t observable-rust-services/redis-counter .
#
# (docker-compose.yml does this for each service; BuildKit builds the shared `builder` stage once.)
#
# Stages:
#   chef        rust toolchain + cargo-chef
#   planner     reduces the workspace to a dependency "recipe" (Cargo.toml/Cargo.lock only)
#   builder     builds dependencies from the recipe (a cached layer that only changes with
#               Cargo.toml/Cargo.lock), then our crates, all five binaries in one cargo invocation
#   healthcheck a std-only HTTP probe, see deploy/docker/healthcheck.rs
#   runtime     distroless/cc: glibc + libgcc + CA certificates, no shell, non-root user 65532
#   <service>   runtime + one binary, its port and its entrypoint

ARG RUST_IMAGE=rust:1.95-slim-bookworm
# distroless/cc-debian12 matches the builder's glibc (bookworm, 2.36). Tags are rolling: pin a digest
# (gcr.io/distroless/cc-debian12:nonroot@sha256:...) in your registry for byte-for-byte reproducible images.
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS chef
# Pinned, --locked: the tool that shapes the cache key should not change under us.
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src
# The binaries that ship. testkit and telemetry are libraries and are built as their dependencies.
ENV SERVICES="web-flask-equivalent redis-counter robot-control url-prober loadgen"

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
# Dependencies only: this layer is reused until Cargo.toml or Cargo.lock change, which is what
# makes a one-line code change rebuild in seconds instead of minutes. aws-lc-sys (rustls' crypto)
# compiles with the gcc that the rust slim image ships; no cmake or OpenSSL needed.
RUN cargo chef cook --release --locked --recipe-path recipe.json $(printf -- '-p %s ' $SERVICES)
COPY . .
RUN cargo build --release --locked $(printf -- '-p %s ' $SERVICES) \
    && mkdir -p /out \
    && for service in $SERVICES; do cp "target/release/$service" /out/; done

FROM ${RUST_IMAGE} AS healthcheck
# Its own stage, so it is cached independently of the workspace (it only depends on this one file).
COPY deploy/docker/healthcheck.rs /src/healthcheck.rs
RUN rustc --edition 2024 -O -C strip=symbols -C codegen-units=1 /src/healthcheck.rs -o /healthcheck

FROM ${RUNTIME_IMAGE} AS runtime
# Health checks. The runtime image has no shell, curl or wget (less to patch, less to exploit), so a
# 400 kB std-only probe is shipped instead: `healthcheck` GETs http://127.0.0.1:<port of LISTEN_ADDR>/healthz
# and exits 0 on 2xx. It works the same for the image's HEALTHCHECK, for docker-compose.yml
# (which passes the URL explicitly) and from `docker exec`. Kubernetes uses httpGet probes instead.
# Why not a `--healthcheck` flag of each service binary: it would couple every crate's CLI to Docker,
# and a probe that shares the binary also shares its start-up cost (telemetry init, config parsing).
COPY --from=healthcheck /healthcheck /usr/local/bin/healthcheck
# Numeric, so Kubernetes' runAsNonRoot can verify it without an /etc/passwd lookup.
USER 65532:65532
ENV LOG_FORMAT=json \
    RUST_LOG=info
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/healthcheck"]

FROM runtime AS redis-counter
COPY --from=builder /out/redis-counter /usr/local/bin/redis-counter
ENV LISTEN_ADDR=0.0.0.0:5001
EXPOSE 5001
ENTRYPOINT ["/usr/local/bin/redis-counter"]

FROM runtime AS robot-control
COPY --from=builder /out/robot-control /usr/local/bin/robot-control
ENV LISTEN_ADDR=0.0.0.0:6543 \
    ROBOT_DRIVER=sim
EXPOSE 6543
ENTRYPOINT ["/usr/local/bin/robot-control"]

FROM runtime AS url-prober
COPY --from=builder /out/url-prober /usr/local/bin/url-prober
ENV LISTEN_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/url-prober"]

FROM runtime AS loadgen
COPY --from=builder /out/loadgen /usr/local/bin/loadgen
ENV LISTEN_ADDR=0.0.0.0:9000
EXPOSE 9000
ENTRYPOINT ["/usr/local/bin/loadgen"]

# Last, so that a plain `docker build .` (no --target) produces the seed's service.
FROM runtime AS web-flask-equivalent
COPY --from=builder /out/web-flask-equivalent /usr/local/bin/web-flask-equivalent
ENV LISTEN_ADDR=0.0.0.0:5000
EXPOSE 5000
ENTRYPOINT ["/usr/local/bin/web-flask-equivalent"]
