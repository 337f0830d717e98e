"""The certificates of a group's device edge, made with `cryptography` into the core's work folder.

Two authorities, as on AWS:
- the *IoT CA* stands in for AWS IoT's: it issues each thing's certificate (a thing's identity is the
  certificate's common name) and the discovery endpoint's server certificate, so a device trusts it as it
  trusts Amazon's root CA for discovery;
- the *group CA* is the Greengrass group's: it issues the core's MQTT server certificate, and a device
  learns it from discovery, as the tutorial's Thing does.

Keys are EC P-256 (fast to make; OpenSSL and AWSIoTPythonSDK take them) and written owner-only (0600) in
an owner-only folder. Validity is in wall time: TLS checks it against the system clock, whatever the core's.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY_DAYS = 3650
LEAF_VALIDITY_DAYS = 365
SERVER_NAMES = ("localhost", "127.0.0.1")  # where the emulated core and its discovery endpoint listen


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class DeviceCredentials:
    """What a client device is provisioned with: its certificate and key, and the root CA it trusts for
    discovery (the stand-in for Amazon's). The group CA comes later, from discovery."""

    thing: str
    cert: Path
    key: Path
    root_ca: Path


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start: never readable by others, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class _Authority:
    def __init__(self, folder: Path, name: str, common_name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.datetime.now(datetime.UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_VALIDITY_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.certificate.public_bytes(serialization.Encoding.PEM)
        self.path = folder / f"{name}.pem.crt"
        self.path.write_bytes(self.pem)
        _write_private(folder / f"{name}.pem.key", _pem_key(self.key))

    def issue(
        self,
        folder: Path,
        name: str,
        common_name: str,
        *,
        server: bool,
        not_before: datetime.datetime | None = None,
        not_after: datetime.datetime | None = None,
    ) -> KeyPair:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - datetime.timedelta(minutes=5))
            .not_valid_after(not_after or now + datetime.timedelta(days=LEAF_VALIDITY_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if server:
            names: list[x509.GeneralName] = [x509.DNSName(SERVER_NAMES[0])]
            names.append(x509.IPAddress(ipaddress.ip_address(SERVER_NAMES[1])))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        certificate = builder.sign(self.key, hashes.SHA256())
        pair = KeyPair(folder / f"{name}.pem.crt", folder / f"{name}.pem.key")
        pair.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        _write_private(pair.key, _pem_key(key))
        return pair


class EdgeCertificates:
    """The group's two CAs, the core's server certificates, and a certificate per thing on request."""

    def __init__(self, folder: Path, group_name: str) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        (self.folder / "things").mkdir(mode=0o700, exist_ok=True)
        self.iot_ca = _Authority(self.folder, "iot-root-ca", "raincheck stand-in for the AWS IoT CA")
        self.group_ca = _Authority(self.folder, "group-ca", f"Greengrass group {group_name} CA")
        self.core_server = self.group_ca.issue(
            self.folder, "core-mqtt-server", "greengrass-core", server=True
        )
        self.discovery_server = self.iot_ca.issue(
            self.folder, "discovery-server", "greengrass-ats.iot.emulated", server=True
        )

    def for_thing(self, thing: str, *, name: str | None = None, expired: bool = False) -> DeviceCredentials:
        """A certificate for `thing` issued by the IoT CA (CN = thing). `expired` makes one whose validity
        ended yesterday, for refusal tests; `name` keeps several certificates of one thing apart."""
        not_before = not_after = None
        if expired:
            now = datetime.datetime.now(datetime.UTC)
            not_before, not_after = now - datetime.timedelta(days=30), now - datetime.timedelta(days=1)
        pair = self.iot_ca.issue(
            self.folder / "things",
            name or thing,
            thing,
            server=False,
            not_before=not_before,
            not_after=not_after,
        )
        return DeviceCredentials(thing, pair.cert, pair.key, self.iot_ca.path)
