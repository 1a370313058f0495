# irsa-issuer container image: a release build on Debian, copied onto distroless.
#   docker build -t irsa-issuer .
#   docker run --rm irsa-issuer --help
# Expected size: the stripped x86_64 release binary (24.9 MB, measured) plus
# gcr.io/distroless/cc-debian12 (roughly 20-25 MB: glibc, libgcc, CA certificates, tzdata, a
# nonroot user), so about 50 MB uncompressed.

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

# cc, not static: the binary links glibc and libgcc_s (ldd), which cc carries. The image also
# carries CA certificates; irsa-issuer's own fetches trust the bundled Mozilla roots too.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/irsa-issuer /usr/local/bin/irsa-issuer
USER 65532:65532
EXPOSE 8443 8080
ENTRYPOINT ["irsa-issuer"]
CMD ["--help"]
