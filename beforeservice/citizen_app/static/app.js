// The citizens' app: the service worker (offline inbox, pushes) and, when the server gives a Firebase config,
// FCM web push through the vendored firebase SDK. No inline script anywhere: the CSP allows only this origin.
"use strict";

(function () {
  const body = document.body;
  const status = document.getElementById("push-status");
  const say = (text) => { if (status) status.textContent = text; };

  // Offline, the service worker served the last copy of this page: say so, and since when it is.
  const note = document.getElementById("offline-note");
  const showOffline = () => { if (note) note.hidden = navigator.onLine; };
  showOffline();
  window.addEventListener("offline", showOffline);
  window.addEventListener("online", showOffline);
  if (!("serviceWorker" in navigator)) return;
  const ready = navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).then(() => navigator.serviceWorker.ready);

  // Signing out clears the offline copy of the inbox on this phone.
  document.querySelectorAll('form[action="/app/logout"]').forEach((form) =>
    form.addEventListener("submit", () => ready.then((r) => r.active && r.active.postMessage("forget"))));

  const config = body.dataset.pushConfig ? JSON.parse(body.dataset.pushConfig) : null;
  if (!config || !("PushManager" in window)) return;

  async function registerToken() {
    const sdk = await import("/app/static/vendor/firebase-messaging.js");
    const app = sdk.initializeApp(config);
    const token = await sdk.getToken(sdk.getMessaging(app), {
      vapidKey: config.vapidKey, serviceWorkerRegistration: await ready,
    });
    const response = await fetch("/app/devices/register", {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": body.dataset.csrf },
      body: JSON.stringify({ token: token, platform: "web" }),
      credentials: "same-origin",
    });
    if (!response.ok) throw new Error("registration refused: " + response.status);
    say("이 브라우저에서 알림을 받습니다.");
  }

  const button = document.getElementById("enable-push");
  if (button) {
    button.hidden = false;
    button.addEventListener("click", () => {
      Notification.requestPermission().then((answer) => {
        if (answer !== "granted") { say("알림이 허용되지 않았습니다. 브라우저 설정에서 바꿀 수 있습니다."); return; }
        registerToken().catch(() => say("알림을 켜지 못했습니다. 잠시 뒤 다시 시도해 주세요."));
      });
    });
  }
  // Already allowed: refresh the token at each start (FCM rotates it), as the devices API expects.
  if (Notification.permission === "granted") registerToken().catch(() => {});
})();
