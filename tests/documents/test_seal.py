"""Each committee's seal: made once (also under a race), sealing in a worker, a signature
pyHanko validates as intact, whole-file and certified, and one changed byte that breaks it;
a CA-issued PKCS#12 used instead when configured. On the database under test."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pydantic import SecretStr
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from sqlmodel import select

from agreements.render import agreement_html
from service.clock import now
from service.documents import pades, seal
from service.documents.models import SealKey, SealSource
from service.errors import Unavailable
from service.settings import PdfSettings, Settings
from tests.conftest import Factory
from tests.documents.samples import sample_doc


def validate(pdf: bytes, trust: list[asn1_x509.Certificate]) -> PdfSignatureStatus:
    """pyHanko's own validation of the file's (only) signature, nothing fetched."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    signatures = reader.embedded_signatures
    assert len(signatures) == 1
    context = ValidationContext(trust_roots=trust, allow_fetching=False)
    return validate_pdf_signature(signatures[0], context)


async def rendered(app: Any) -> bytes:
    pdf: bytes = await app.state.pdf.render(agreement_html(sample_doc()))
    return pdf


async def test_a_committee_gets_one_seal_on_first_use(factory: Factory) -> None:
    org = await factory.committee()
    settings = factory.app.state.settings
    async with factory.uow() as s:
        first = await seal.seal_key(s, org_id=org.id or 0, settings=settings)
    async with factory.uow() as s:
        again = await seal.seal_key(s, org_id=org.id or 0, settings=settings)
    assert (again.cert_pem, again.key_pem) == (first.cert_pem, first.key_pem)
    assert first.source == SealSource.generated
    assert "ENCRYPTED PRIVATE KEY" in first.key_pem
    cert = x509.load_pem_x509_certificate(first.cert_pem.encode())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == org.name
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    with pytest.raises(TypeError):  # the key needs the passphrase ...
        serialization.load_pem_private_key(first.key_pem.encode(), password=None)
    key = serialization.load_pem_private_key(  # ... derived from the service's secret
        first.key_pem.encode(), password=seal.passphrase(settings)
    )
    assert key.public_key() == cert.public_key()


async def test_two_first_uses_at_once_make_one_seal(factory: Factory) -> None:
    org = await factory.committee()
    settings = factory.app.state.settings

    async def first_use() -> str:
        async with factory.uow() as s:
            row = await seal.seal_key(s, org_id=org.id or 0, settings=settings)
            await asyncio.sleep(0.05)  # both hold their transaction open at once
            return row.cert_pem

    certs = await asyncio.gather(*(first_use() for _ in range(3)))
    assert len(set(certs)) == 1
    async with factory.uow() as s:
        rows = (await s.exec(select(SealKey).where(SealKey.org_id == org.id))).all()
    assert len(rows) == 1


async def test_the_seal_validates_and_one_changed_byte_breaks_it(factory: Factory) -> None:
    org = await factory.committee()
    app = factory.app
    pdf = await rendered(app)
    async with factory.uow() as s:
        sealed = await seal.seal(
            s, org_id=org.id or 0, pdf=pdf, settings=app.state.settings, workers=app.state.pdf
        )
        key = await seal.seal_key(s, org_id=org.id or 0, settings=app.state.settings)
    assert sealed.startswith(pdf)  # an incremental update: the rendered file is kept whole
    trust = pades.certificates(key.cert_pem.encode())
    status = await asyncio.to_thread(validate, sealed, trust)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.bottom_line
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.docmdp_ok  # a certification signature: no changes allowed after it
    reader = PdfFileReader(io.BytesIO(sealed), strict=False)
    assert "/ETSI.CAdES.detached" in str(reader.embedded_signatures[0].sig_object["/SubFilter"])

    # One byte of the rendered page content, changed.
    changed = bytearray(sealed)
    changed[len(pdf) // 2] ^= 0x01
    try:
        broken = await asyncio.to_thread(validate, bytes(changed), trust)
    except Exception as exc:  # a file too damaged to read fails verification too
        assert "signature" in str(exc).lower() or exc.__class__.__name__, exc
    else:
        assert not broken.intact
        assert not broken.bottom_line

    # The same in the worker's check, the one verification uses.
    check = await app.state.pdf.run(pades.check_pdf, bytes(changed))
    assert not (check["intact"] and check["valid"])


async def test_a_configured_pkcs12_seals_instead(factory: Factory, tmp_path: Path) -> None:
    """A CA-issued certificate in <org id>.p12: used (source configured), its chain kept,
    the seal validating up to the CA; a wrong passphrase is a 503 naming the problem."""
    org = await factory.committee()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "测试电子认证服务机构")])
    start = now() - timedelta(days=1)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, org.name)]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365))
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (tmp_path / f"{org.id}.p12").write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"seal",
            leaf_key,
            leaf_cert,
            [ca_cert],
            serialization.BestAvailableEncryption(b"p12 passphrase"),
        )
    )
    base: Settings = factory.app.state.settings
    settings = base.model_copy(
        update={
            "pdf": PdfSettings(
                seal_pkcs12_dir=tmp_path,
                seal_pkcs12_passphrase=SecretStr("p12 passphrase"),
            )
        }
    )
    pdf = await rendered(factory.app)
    async with factory.uow() as s:
        sealed = await seal.seal(
            s, org_id=org.id or 0, pdf=pdf, settings=settings, workers=factory.app.state.pdf
        )
        key = await seal.seal_key(s, org_id=org.id or 0, settings=settings)
    assert key.source == SealSource.configured
    chain = pades.certificates(key.cert_pem.encode())
    assert [c.subject.native["common_name"] for c in chain] == [org.name, "测试电子认证服务机构"]
    ca = asn1_x509.Certificate.load(ca_cert.public_bytes(serialization.Encoding.DER))
    status = await asyncio.to_thread(validate, sealed, [ca])
    assert status.bottom_line, status.pretty_print_details()

    wrong = base.model_copy(
        update={
            "pdf": PdfSettings(seal_pkcs12_dir=tmp_path, seal_pkcs12_passphrase=SecretStr("not it"))
        }
    )
    async with factory.uow() as s:
        with pytest.raises(Unavailable) as refused:
            await seal.seal_key(s, org_id=org.id or 0, settings=wrong)
    assert refused.value.status_code == 503
    assert "administrator" in refused.value.message
