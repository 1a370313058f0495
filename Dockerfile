# irsa-issuer container image: a release build on Debian, copied onto distroless.
#   docker build -t irsa-issuer .
#   docker run --rm irsa-issuer --help
# Expected size: the stripped x86_64 binary (about 25 MB) plus gcr.io/distroless/cc-debian12
# (about 24 MB: glibc, libgcc, CA certificates, tzdata, a nonroot user), so roughly 50 MB.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so that a source change does not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src ./src
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin irsa-issuer

# cc (not static): aws-lc-rs links against glibc. The image carries CA certificates, which the
# AWS SDK's TLS uses; irsa-issuer's own fetches also trust the bundled Mozilla roots.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/irsa-issuer /usr/local/bin/irsa-issuer
USER 65532:65532
EXPOSE 8443 8080
ENTRYPOINT ["irsa-issuer"]
CMD ["--help"]
