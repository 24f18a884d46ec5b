/* Swagger UI on /docs, from this server only (the CSP allows no inline script). */
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null, // no badge fetched from a third-party validator
  presets: [SwaggerUIBundle.presets.apis],
});
