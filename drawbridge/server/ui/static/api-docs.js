// Starts Swagger UI on /docs (a file, not an inline script: the page's CSP allows no
// inline script). The OpenAPI document's URL is in the page, so /t/<token>/docs reads
// /t/<token>/openapi.json.
"use strict";

window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapi,
    domNode: root,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
});
