# Build and run Portcullis in a container. These machines have no container engine:
# .ci/run builds exactly this build stage's inputs (its COPY lines) with the same
# `cargo build --release --locked`, so the build stage cannot silently break again.
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev pkg-config && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
COPY benches ./benches
# The workspace's other member (the resource-server crate): cargo reads every member.
COPY crates ./crates
# No .git in the build context: the revision for `portcullis_build_info` comes in as a
# build argument (docker build --build-arg PORTCULLIS_GIT_REVISION=$(git rev-parse --short=12 HEAD)).
ARG PORTCULLIS_GIT_REVISION=unknown
ENV PORTCULLIS_GIT_REVISION=${PORTCULLIS_GIT_REVISION}
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/portcullis --no-create-home portcullis \
    && install -d -o portcullis -g portcullis -m 0700 /var/lib/portcullis /var/lib/portcullis/keys
COPY --from=build /src/target/release/portcullis /usr/local/bin/portcullis
USER portcullis
WORKDIR /var/lib/portcullis
# SQLite in the data directory unless DATABASE_URL names PostgreSQL; data.key in
# keys/ unless PORTCULLIS_DATA_KEY is set (set it when several instances run).
ENV PORTCULLIS_BIND=0.0.0.0:8080 \
    PORTCULLIS_METRICS_BIND=0.0.0.0:9464 \
    DATABASE_URL=sqlite:///var/lib/portcullis/portcullis.db \
    PORTCULLIS_KEYS_DIR=/var/lib/portcullis/keys
VOLUME ["/var/lib/portcullis"]
# 8080: the public listener; 9464: metrics and health, for the operator's network only.
EXPOSE 8080 9464
# Ready when the database answers and signing keys are loaded. No curl in this image:
# bash's /dev/tcp speaks enough HTTP.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9464 && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["portcullis"]
CMD ["serve"]
