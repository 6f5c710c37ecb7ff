# The call-control service, compiled: `npm run build` in a build stage, then `node dist/main.js` on Node 24 LTS
# with the production dependencies only (no TypeScript, no tsx, no dev dependencies), as the unprivileged user.
# No dependency the service needs has an install script, so none is run (--ignore-scripts).
# Built by docker-compose.yml; on its own: docker build -t helpdesk-call-control .
# The Node image is pinned to one release; change NODE_IMAGE (and package.json "engines") together.
ARG NODE_IMAGE=node:24.20.0-trixie-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build
# The browser pages (/desk, /wall): static files and the bundles esbuild writes to web/dist.
COPY web ./web
RUN npm run -s build:web

FROM ${NODE_IMAGE} AS production-dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only for the service: it writes nothing but its log (stdout).
COPY package.json ./
COPY config ./config
COPY --from=production-dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/web/public ./web/public
COPY --from=build /app/web/dist ./web/dist
USER node
EXPOSE 8043
# /health is 200 when the service runs and both servers are connected, 503 while one is not. The image has no
# curl: Node's own fetch asks. HTTP_HOST 0.0.0.0 (compose) or 127.0.0.1 is reached on 127.0.0.1.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 8043) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM (docker stop) starts the graceful stop; it ends within shutdown.timeoutSeconds (10 s), so the stop
# timeout must be longer (docker-compose.yml: stop_grace_period 15s; docker stop -t 15).
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
