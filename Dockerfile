# Build: a full Rust toolchain, then only the binary goes into a small runtime image.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY migrations ./migrations
COPY dsconfig ./dsconfig
COPY benches ./benches
RUN cargo build --release --locked --bin datastore

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/datastore --create-home datastore
COPY --from=build /src/target/release/datastore /usr/local/bin/datastore
COPY --from=build /src/dsconfig /etc/datastore/dsconfig
USER datastore
WORKDIR /var/lib/datastore
ENV DATASTORE_DATABASE_URL=sqlite:///var/lib/datastore/data/datastore.db \
    DATASTORE_DSCONFIG=/etc/datastore/dsconfig \
    DATASTORE_LOG_FORMAT=json
VOLUME ["/var/lib/datastore/data"]
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["datastore"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
