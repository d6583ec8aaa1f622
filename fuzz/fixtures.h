/*
 * Certificates the fuzz targets share with their seeds, so mutations start from
 * inputs that pass: a CA and a client certificate it issued (CN=alice, to 2126).
 */
#ifndef AUTHD_FUZZ_FIXTURES_H
#define AUTHD_FUZZ_FIXTURES_H

static const char fixture_ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBmDCCAT2gAwIBAgIUGHw996bzbMRR25k8ySbQjPtomvswCgYIKoZIzj0EAwIw\n"
    "GDEWMBQGA1UEAwwNYXV0aGQgZnV6eiBDQTAgFw0yNjExMjMxNzQ0MjVaGA8yMTI2\n"
    "MTAzMDE3NDQyNVowGDEWMBQGA1UEAwwNYXV0aGQgZnV6eiBDQTBZMBMGByqGSM49\n"
    "AgEGCCqGSM49AwEHA0IABBovreikjTIS289320Mjlg8Kvr3Y4E3WtymQVYg60byt\n"
    "f9Qidsm8Mp/+EtWcBw9o0LYjjQM2uH8tJI5k70n4POCjYzBhMB0GA1UdDgQWBBR2\n"
    "TsYm51aUa/9NOcSGk+bPKGfeBjAfBgNVHSMEGDAWgBR2TsYm51aUa/9NOcSGk+bP\n"
    "KGfeBjAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAKBggqhkjOPQQD\n"
    "AgNJADBGAiEAqoYLMng610PLCitGUPzrQ3lGOG4vEixNTTqG0u5CPfMCIQDw2PMu\n"
    "YCpGZRIrMk7B7zSugLYbsc3lbiWFHstNjHjIfg==\n"
    "-----END CERTIFICATE-----\n";

static const char fixture_client_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBvjCCAWOgAwIBAgIUceGO8DUuh5E50wEYo0dXPBDRi8IwCgYIKoZIzj0EAwIw\n"
    "GDEWMBQGA1UEAwwNYXV0aGQgZnV6eiBDQTAgFw0yNjExMjMxNzQ0MjVaGA8yMTI2\n"
    "MTAzMDE3NDQyNVowLzEOMAwGA1UECgwFYXV0aGQxDTALBgNVBAsMBHVzZXIxDjAM\n"
    "BgNVBAMMBWFsaWNlMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1EzO8YJAIPhi\n"
    "1CCN45RGWpE6iM2bLGCcX3fW2dB2jHNAVVbm6NmvplwxgsOapND9Yu1D3ZcVdSY5\n"
    "rF5p4lz+2aNyMHAwEwYDVR0lBAwwCgYIKwYBBQUHAwIwDgYDVR0PAQH/BAQDAgeA\n"
    "MAkGA1UdEwQCMAAwHQYDVR0OBBYEFANp6XQAtq7FjWzsH/ouBuXBakamMB8GA1Ud\n"
    "IwQYMBaAFHZOxibnVpRr/005xIaT5s8oZ94GMAoGCCqGSM49BAMCA0kAMEYCIQC6\n"
    "yidlTYtxZqZw5SnHCjK1NYt2pMYU6z9riov9c4tWBQIhALkrE7lAf/Q4VY0OjMt7\n"
    "Jmai3/S0FZ53ZuejMdZKrmRY\n"
    "-----END CERTIFICATE-----\n";

#endif
