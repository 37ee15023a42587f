# syntax=docker/dockerfile:1
# Build: native modules (better-sqlite3) compile here, against the same Node and glibc as the runtime.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --omit=optional

# Runtime: distroless Node 20 (no shell, no package manager), as the non-root user 65532.
FROM gcr.io/distroless/nodejs20-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY proto ./proto
COPY rules ./rules
USER 65532:65532
EXPOSE 2804
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/cli.js"]
CMD ["run"]
