"""FCM, the production push channel: the firebase-admin-based sender and its one transport."""
