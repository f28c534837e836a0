# syntax=docker/dockerfile:1
# opsbot container image: `docker build -t opsbot .`
# Run (HTTP mode; the root filesystem may be read-only, the SQLite store lives on the /data volume):
#   docker run --read-only --tmpfs /tmp -v opsbot-data:/data -p 3000:3000 \
#     -e SLACK_BOT_TOKEN_FILE=/run/secrets/slack_bot_token -e SLACK_SIGNING_SECRET_FILE=/run/secrets/slack_signing_secret \
#     -v "$PWD/opsbot.yaml:/etc/opsbot/opsbot.yaml:ro" opsbot
# Keep NODE_VERSION equal to the `node` devDependency in package.json (a test checks it).
ARG NODE_VERSION=24.21.0

# 1. Build: all dependencies, compile src/ to dist/.
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# The image already is Node 24: no dependency install script is needed (the `node` package's would download a
# second runtime; esbuild's and protobufjs's are denied in package.json anyway).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json

# 2. Production dependencies only.
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 3. Runtime: dist/, bin/, production node_modules, tini as PID 1 so SIGTERM reaches Node and zombies are reaped,
# git (with CA certificates for HTTPS) for /amend, which changes MR branches with real git.
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini git ca-certificates \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    OPSBOT_CONFIG=/etc/opsbot/opsbot.yaml \
    PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json LICENSE README.md ./
COPY bin ./bin
COPY config ./config
COPY deploy/docker/opsbot.yaml /etc/opsbot/opsbot.yaml
# The data directory belongs to the runtime user (uid 1000, the image's `node` user); everything else is
# read-only to it.
RUN mkdir -p /data && chown 1000:1000 /data
VOLUME ["/data"]
USER 1000:1000
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/opsbot.js"]
CMD ["serve"]
