// What app.js uses of the firebase JS SDK: the app, messaging and its token. Bundled by esbuild (make vendor-js).
export { initializeApp } from "firebase/app";
export { getMessaging, getToken, deleteToken, isSupported } from "firebase/messaging";
