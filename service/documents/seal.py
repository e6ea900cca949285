"""Each organisation's electronic seal: its key and certificate, and sealing a PDF with it.

A committee's seal is made on first use: an EC P-256 key and a self-signed certificate
naming the committee (CN and O), kept in ``seal_key`` with the key encrypted under a
passphrase derived from the service's secret. A CA-issued certificate can be put in place
instead: ``MEDIATION_PDF__SEAL_PKCS12_DIR`` holding ``<organisation id>.p12`` (and
``MEDIATION_PDF__SEAL_PKCS12_PASSPHRASE``); it is read when the organisation next seals and
recorded with source ``configured``. The signature itself is made in a PDF worker
(``pades.seal_pdf``), never on the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from service.clock import now
from service.documents import pades
from service.documents.models import SealKey, SealSource
from service.documents.pdf import PdfWorkers
from service.errors import NotFound, Unavailable
from service.i18n import N_
from service.models import Organisation
from service.settings import Settings

log = logging.getLogger("mediation.seal")

SEAL_YEARS = 20  # a committee's seal outlives any one agreement's confirmation window
SEAL_BROKEN = N_(
    "The committee's seal cannot be used right now. Tell your administrator (the seal"
    " certificate file or its passphrase needs checking)."
)


def passphrase(settings: Settings) -> bytes:
    """The passphrase of every stored seal key: derived from the service's secret, so the
    database alone does not let anyone seal."""
    digest = hmac.new(settings.secret(), b"mediation seal key v1", hashlib.sha256)
    return digest.hexdigest().encode()


def generate(org_name: str, secret: bytes) -> tuple[str, str]:
    """A new EC P-256 key and a self-signed seal certificate for ``org_name`` (PEMs; the key
    encrypted with ``secret``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name[:64]),
            x509.NameAttribute(NameOID.COMMON_NAME, org_name[:64]),
        ]
    )
    start = now() - timedelta(days=1)  # clocks elsewhere may lag a little
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365 * SEAL_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # non-repudiation: the committee stands by it
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
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
        serialization.BestAvailableEncryption(secret),
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def load_pkcs12(path: Path, file_passphrase: bytes | None, secret: bytes) -> tuple[str, str]:
    """A configured seal: its certificate chain (signer first) and key, re-encrypted with
    ``secret`` like a generated one. Raises ValueError when the file cannot be opened."""
    key, cert, chain = pkcs12.load_key_and_certificates(path.read_bytes(), file_passphrase)
    if key is None or cert is None:
        raise ValueError(f"{path.name} holds no key or no certificate")
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        # pyHanko would sign with RSA too, but the seal's profile (issue 13) is EC P-256.
        log.warning("configured seal %s is not an EC key; using it anyway", path.name)
    pems = [c.public_bytes(serialization.Encoding.PEM).decode() for c in [cert, *chain]]
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(secret),
    )
    return "".join(pems), key_pem.decode()


def configured_file(settings: Settings, org_id: int) -> Path | None:
    folder = settings.pdf.seal_pkcs12_dir
    if folder is None:
        return None
    path = folder / f"{org_id}.p12"
    return path if path.is_file() else None


async def seal_key(session: AsyncSession, *, org_id: int, settings: Settings) -> SealKey:
    """The organisation's seal, made (or read from the configured file) on first use.

    Two first uses at once: both try to insert; the primary key lets one win, and the other,
    its insert undone in a savepoint, reads the winner's row."""
    existing = await session.get(SealKey, org_id)
    secret = passphrase(settings)
    path = configured_file(settings, org_id)
    if path is not None:
        file_passphrase = settings.pdf.seal_pkcs12_passphrase
        try:
            cert_pem, key_pem = await asyncio.to_thread(
                load_pkcs12,
                path,
                file_passphrase.get_secret_value().encode() if file_passphrase else None,
                secret,
            )
        except (ValueError, OSError) as exc:
            log.error("the configured seal of organisation %s cannot be read: %s", org_id, exc)
            raise Unavailable(SEAL_BROKEN) from None
        if existing is not None and existing.cert_pem == cert_pem:
            return existing
        if existing is not None:
            # The operator put a CA-issued seal in place of the generated one (or renewed
            # it): documents sealed before keep verifying by their stored hash.
            log.warning("organisation %s now seals with its configured certificate", org_id)
            existing.cert_pem, existing.key_pem = cert_pem, key_pem
            existing.source = SealSource.configured
            session.add(existing)
            await session.flush()
            return existing
        return await _insert(session, org_id, cert_pem, key_pem, SealSource.configured)
    if existing is not None:
        return existing
    org = await session.get(Organisation, org_id)
    if org is None:
        raise NotFound("No such organisation.")
    cert_pem, key_pem = await asyncio.to_thread(generate, org.name, secret)
    return await _insert(session, org_id, cert_pem, key_pem, SealSource.generated)


async def _insert(
    session: AsyncSession, org_id: int, cert_pem: str, key_pem: str, source: SealSource
) -> SealKey:
    row = SealKey(org_id=org_id, cert_pem=cert_pem, key_pem=key_pem, source=source)
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        if row in session:  # the savepoint's rollback usually takes it out already
            session.expunge(row)
        winner = await session.get(SealKey, org_id, populate_existing=True)
        if winner is None:  # neither ours nor theirs: a real failure, not the race
            raise
        return winner
    log.info("organisation %s has a new %s seal", org_id, source.value)
    return row


async def seal(
    session: AsyncSession,
    *,
    org_id: int,
    pdf: bytes,
    settings: Settings,
    workers: PdfWorkers,
    reason: str = "人民调解委员会印章",
    **ids: object,
) -> bytes:
    """``pdf`` sealed by the organisation (a PAdES certification signature), in a worker."""
    key = await seal_key(session, org_id=org_id, settings=settings)
    org = await session.get(Organisation, org_id)
    name = org.name if org is not None else str(org_id)
    sealed: bytes = await workers.run(
        pades.seal_pdf,
        pdf,
        key.key_pem.encode(),
        passphrase(settings),
        key.cert_pem.encode(),
        name,
        reason,
        what="seal",
        org_id=org_id,
        **ids,
    )
    return sealed
