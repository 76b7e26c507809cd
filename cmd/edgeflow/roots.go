package main

// Gateways often ship no CA bundle (OpenWrt images without ca-bundle, some
// vendor firmwares), and then every HTTPS connection to the cloud would fail
// certificate verification. This bundle of Mozilla's roots is used only when
// the system has no roots of its own; it never disables verification.
import _ "golang.org/x/crypto/x509roots/fallback"
