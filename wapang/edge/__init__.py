"""The HTTPS edge: nginx configuration rendering and the certificate manager driving certbot."""
