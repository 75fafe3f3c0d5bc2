// Service worker of the citizens' app (scope /app/): keeps the last inbox for offline reading and shows pushes.
// A push shows only the lock-screen text the engine wrote (no names, no amounts); a tap opens the offer.
"use strict";

const CACHE = "beforeservice-app-v1";
const SHELL = ["/app/static/krds.css", "/app/static/app.css", "/app/static/app.js", "/app/static/icon.svg"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

// The inbox: network first, the last copy when offline. Other pages and the API always go to the network.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname === "/app/") {
    event.respondWith(
      fetch(event.request)
        .then((response) => {
          if (response.ok && !response.redirected) {
            const copy = response.clone();
            caches.open(CACHE).then((cache) => cache.put("/app/", copy));
          }
          return response;
        })
        .catch(() => caches.match("/app/").then((cached) => cached || Response.error())),
    );
  } else if (url.pathname.startsWith("/app/static/")) {
    event.respondWith(caches.match(event.request).then((cached) => cached || fetch(event.request)));
  }
});

self.addEventListener("message", (event) => {
  if (event.data === "forget") event.waitUntil(caches.delete(CACHE));
});

// FCM web push payload: {notification: {title, body}, data: {notification_id, kind}, ...}.
self.addEventListener("push", (event) => {
  let payload = {};
  try { payload = event.data ? event.data.json() : {}; } catch (e) { payload = {}; }
  const shown = payload.notification || {};
  const data = payload.data || {};
  const id = typeof data.notification_id === "string" && /^[A-Za-z0-9-]{1,64}$/.test(data.notification_id)
    ? data.notification_id : null;
  event.waitUntil(
    self.registration.showNotification(shown.title || "새 혜택 안내", {
      body: shown.body || "앱에서 확인해 주세요.",
      icon: "/app/static/icon.svg",
      tag: id || "beforeservice",
      data: { url: id ? "/app/notifications/" + id : "/app/" },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = (event.notification.data && event.notification.data.url) || "/app/";
  event.waitUntil(self.clients.openWindow(target));
});
