// Starts Swagger UI on /docs. A file rather than an inline script, so a Content-Security-Policy of
// script-src 'self' allows it; validatorUrl null keeps the UI from calling an outside validator.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: document.getElementById("swagger-ui").dataset.openapiUrl,
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: true,
    showExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
});
