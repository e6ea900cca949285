// Starts Swagger UI on the API's docs page (service/apidocs.py). A file rather than the inline
// script FastAPI's own page uses, which the Content-Security-Policy refuses.

const root = document.getElementById("swagger-ui");
window.ui = window.SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  // The validity badge would be fetched from Swagger's own site.
  validatorUrl: null,
  presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
});
