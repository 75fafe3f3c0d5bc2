// Service worker of the citizens' app (scope /app/): keeps the last inbox and offer pages for offline reading and
// shows pushes. A push shows only the lock-screen text the engine wrote (no names, no amounts); a tap opens the
// offer (through /app/notifications/<id>, which counts it opened and redirects to the offer, or the inbox).
"use strict";

const CACHE = "beforeservice-app-v3"; // v3: the stylesheet is inlined in each page, so offline copies carry it
const PAGE = /^\/app\/(offers\/[A-Za-z0-9-]{1,64})?$/; // the inbox and offer pages kept for offline reading
const SHELL = ["/app/static/app.js", "/app/static/icon.svg"];

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

// The inbox and offer pages: network first, the last copy when offline. Other pages and the API always go to the
// network. A redirect (to sign-in) is never kept.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (PAGE.test(url.pathname)) {
    const key = url.pathname;
    event.respondWith(
      fetch(event.request)
        .then((response) => {
          if (response.ok && !response.redirected) {
            const copy = response.clone();
            event.waitUntil(caches.open(CACHE).then((cache) => cache.put(key, copy)));
          }
          return response;
        })
        .catch(() => caches.match(key).then((cached) => cached || Response.error())),
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

// A tap: an open window of the app goes to the offer (navigate + focus); otherwise a new window opens on it.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const wanted = event.notification.data && event.notification.data.url;
  const path = typeof wanted === "string" && /^\/app\/[A-Za-z0-9\/-]{0,120}$/.test(wanted) ? wanted : "/app/";
  const target = new URL(path, self.location.origin).href;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window" }); // those this worker controls
    const open = windows.find((c) => new URL(c.url).pathname.startsWith("/app/"));
    if (open) {
      const moved = (await open.navigate(target).catch(() => null)) || open;
      await moved.focus().catch(() => {}); // focus needs the tap's user activation: not fatal without it
      return;
    }
    await self.clients.openWindow(target);
  })());
});
