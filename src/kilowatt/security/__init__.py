"""The OCPP 1.6 security whitepaper's messages: security events, the station CA that signs
charge point certificates (SignCertificate → CertificateSigned), and the inventory of the
certificates installed on each station (docs/security-messages.md)."""
