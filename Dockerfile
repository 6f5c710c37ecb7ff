# The call-control service. Built by docker-compose.yml; runs TypeScript with tsx, as `npm start` does.
FROM node:20-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm install --no-save --no-audit --no-fund tsx@4
COPY tsconfig.json ./
COPY config ./config
COPY src ./src
ENV NODE_ENV=production
EXPOSE 8043
USER node
CMD ["node", "--import", "tsx", "src/main.ts"]
