"""The station CA: checks a charge point's CSR, signs it, and computes certificate hash data.

The CA is the one configured (``KILOWATT_STATION_CA_CERT`` / ``KILOWATT_STATION_CA_KEY``, PEM
files) or, when none is, a development CA generated under the data directory on first run
(``station-ca/``; the key readable by its owner only). Nothing here does I/O but ``load``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# A00.FR.502 / A00.FR.503: RSA (and DSA) keys of at least 2048 bits, elliptic curves of 224.
MIN_RSA_BITS = 2048
MIN_EC_BITS = 224
CERTIFICATE_DAYS = 365  # validity of a charge point certificate we sign
CA_DAYS = 10 * 365  # validity of a generated development CA
CLOCK_SKEW = timedelta(minutes=5)  # not_before this much in the past: stations' clocks drift
MAX_CHAIN_CHARS = 10_000  # CertificateSigned.req certificateChain, string[0..10000]
HASH_ALGORITHMS = {"SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}
DEV_CA_DIR = "station-ca"


class CsrRejected(ValueError):
    """A CSR we do not sign; the message says why (for the log, never for the station)."""


class CaUnavailable(RuntimeError):
    """The configured CA cannot be loaded (missing file, wrong key, not PEM)."""


@dataclass(frozen=True, slots=True)
class HashData:
    """OCPP CertificateHashDataType: how a station names one of its certificates."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str


@dataclass(frozen=True, slots=True)
class Issued:
    certificate: x509.Certificate
    pem: str  # the leaf
    chain: str  # what CertificateSigned.req carries: the leaf, then any intermediate CA

    @property
    def serial(self) -> str:
        return format(self.certificate.serial_number, "x")

    @property
    def fingerprint(self) -> str:
        return self.certificate.fingerprint(hashes.SHA256()).hex()


@dataclass(frozen=True, slots=True)
class StationCa:
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    @property
    def is_root(self) -> bool:
        return self.certificate.issuer == self.certificate.subject

    @property
    def chain_tail(self) -> str:
        """What follows a leaf in a certificate chain: this CA unless it is a root."""
        if self.is_root:
            return ""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, csr: x509.CertificateSigningRequest, now: datetime) -> Issued:
        """A client (TLS) certificate for the CSR's subject and key, valid for a year."""
        public_key = csr.public_key()
        assert isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
        ca_key_id = x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + timedelta(days=CERTIFICATE_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
                    data_encipherment=False,
                    key_agreement=isinstance(public_key, ec.EllipticCurvePublicKey),
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
        # The station needs an intermediate CA to build its path; a root it holds already.
        return Issued(certificate, pem, pem + self.chain_tail)


def check_csr(
    pem: str, charge_point_id: str, serial_numbers: tuple[str, ...] = ()
) -> x509.CertificateSigningRequest:
    """The CSR, if we sign it: PEM, self-signature valid, CN the charge point id (or one of its
    serial numbers, A00.FR.511), a key of RSA ≥ 2048 or EC ≥ 224 bits. Else CsrRejected."""
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CsrRejected(f"not a PEM certificate signing request ({exc})") from None
    try:
        signature_ok = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm):
        signature_ok = False
    if not signature_ok:
        raise CsrRejected("the CSR's signature does not verify")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1:
        raise CsrRejected("the CSR's subject must hold exactly one CN")
    common_name = names[0].value
    accepted = {charge_point_id, *(s for s in serial_numbers if s)}
    if common_name not in accepted:
        raise CsrRejected(f"the CSR's CN {common_name!r} is not this charge point")
    try:
        key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CsrRejected(f"the CSR's key cannot be read ({exc})") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise CsrRejected(f"RSA key of {key.key_size} bits (at least {MIN_RSA_BITS})")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size < MIN_EC_BITS:
            raise CsrRejected(f"EC key of {key.curve.key_size} bits (at least {MIN_EC_BITS})")
    else:
        raise CsrRejected(f"unsupported key type {type(key).__name__} (RSA or EC only)")
    return csr


def _key_bits(key: object) -> bytes:
    """The subjectPublicKey BIT STRING's content, which an issuerKeyHash hashes (RFC 6960)."""
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    raise ValueError(f"unsupported key type {type(key).__name__}")


def hash_data(
    certificate: x509.Certificate, issuer_key: object, algorithm: str = "SHA256"
) -> HashData:
    """The certificate's hash data, given its issuer's public key (its own for a root)."""
    name = hashlib.new(algorithm.lower(), certificate.issuer.public_bytes()).hexdigest()
    key = hashlib.new(algorithm.lower(), _key_bits(issuer_key)).hexdigest()
    return HashData(algorithm, name, key, format(certificate.serial_number, "x"))


def self_signed_hash_data(pem: str, algorithm: str = "SHA256") -> HashData | None:
    """The hash data of a self-signed (root) certificate in PEM; None for any other."""
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
        if certificate.issuer != certificate.subject:
            return None
        return hash_data(certificate, certificate.public_key(), algorithm)
    except (ValueError, UnsupportedAlgorithm):
        return None


# ---- loading and generating the CA ----------------------------------------------------------
_loaded: dict[tuple[Path, Path], StationCa] = {}


def _read(cert_path: Path, key_path: Path) -> StationCa:
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise CaUnavailable(f"station CA {cert_path} / {key_path}: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise CaUnavailable(f"station CA key {key_path}: RSA or EC keys only")
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*spki) != certificate.public_key().public_bytes(*spki):
        raise CaUnavailable(f"station CA key {key_path} does not match {cert_path}")
    return StationCa(certificate, key)


def _generate(directory: Path, now: datetime) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kilowatt development"),
            x509.NameAttribute(
                NameOID.COMMON_NAME, f"Kilowatt dev station CA {secrets.token_hex(4)}"
            ),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(directory / "ca-key.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem)
    (directory / "ca.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def paths(data_dir: Path, cert: str, key: str) -> tuple[Path, Path]:
    """The CA's files: the configured ones, or the development CA's in the data directory."""
    if cert or key:
        if not (cert and key):
            raise CaUnavailable("set both KILOWATT_STATION_CA_CERT and KILOWATT_STATION_CA_KEY")
        return Path(cert), Path(key)
    return data_dir / DEV_CA_DIR / "ca.pem", data_dir / DEV_CA_DIR / "ca-key.pem"


def load(data_dir: Path, cert: str = "", key: str = "") -> StationCa:
    """The station CA (cached per files); a development CA is generated when none is set."""
    cert_path, key_path = paths(data_dir, cert, key)
    cached = _loaded.get((cert_path, key_path))
    if cached is not None:
        return cached
    if not (cert or key) and not key_path.exists():
        _generate(key_path.parent, datetime.now(UTC))
    ca = _read(cert_path, key_path)
    _loaded[(cert_path, key_path)] = ca
    return ca
