"""The e-Factura back-office view against the ANAF stand-in: submit, re-check, downloads,
queue again, the dashboard box, and roles (support reads, cannot submit)."""

from __future__ import annotations

import re
from datetime import timedelta

from praho.admin.staff import create_staff_user
from praho.plugins.ro_efactura.models import EfacturaSubmission, SubmissionState
from praho.plugins.ro_efactura.states import move
from praho.plugins.ro_efactura.tests import scenarios
from sqlalchemy import select

S = SubmissionState
PASSWORD = "correct horse battery staple"


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _client(app, db, role):
    with db.transaction() as session:
        create_staff_user(session, email=f"{role}@praho.test", name=role, role=role,
                          password=PASSWORD, language="en")
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    client.post("/admin/login", data={"email": f"{role}@praho.test", "password": PASSWORD,
                                      "csrf_token": _token(page)})
    return client


def _post(client, url):
    return client.post(url, data={"csrf_token": _token(client.get(url).get_data(as_text=True))})


def _submission(db, invoice_id):
    with db.transaction() as session:
        return session.execute(select(EfacturaSubmission).where(
            EfacturaSubmission.invoice_id == invoice_id)).scalar_one()


def test_submit_recheck_and_download_from_the_back_office(praho_app, praho_committing, committed,
                                                         authorized, anaf):
    invoice_id = committed(scenarios.domestic_21)
    sub_id = _submission(praho_committing, invoice_id).id
    client = _client(praho_app, praho_committing, "billing")
    assert "waiting or rejected" in client.get("/admin/").get_data(as_text=True)
    listing = client.get("/admin/efactura/").get_data(as_text=True)
    assert "pending" in listing

    assert _post(client, f"/admin/efactura/record-action/submit/?id={sub_id}").status_code == 302
    uploaded = _submission(praho_committing, invoice_id)
    assert uploaded.state == S.UPLOADED and anaf.state.uploads[0].body == uploaded.xml
    xml = client.get(f"/admin/efactura/download/xml/?id={sub_id}")
    assert xml.status_code == 200 and xml.data == uploaded.xml

    assert _post(client, f"/admin/efactura/record-action/recheck/?id={sub_id}").status_code == 302
    assert _submission(praho_committing, invoice_id).state in (S.PROCESSING, S.ACCEPTED)


def test_rejected_submission_is_queued_again_and_support_cannot(praho_app, praho_committing,
                                                                committed):
    invoice_id = committed(scenarios.domestic_21)
    with praho_committing.transaction() as session:
        sub = session.execute(select(EfacturaSubmission).where(
            EfacturaSubmission.invoice_id == invoice_id)).scalar_one()
        session.add(move(sub, S.INVALID, now=sub.created_at + timedelta(minutes=1),
                         reason="test"))
        sub_id = sub.id
    support = _client(praho_app, praho_committing, "support")
    assert support.get(f"/admin/efactura/details/?id={sub_id}").status_code == 200
    assert support.get(f"/admin/efactura/record-action/retry/?id={sub_id}").status_code == 403
    billing = _client(praho_app, praho_committing, "billing")
    assert _post(billing, f"/admin/efactura/record-action/retry/?id={sub_id}").status_code == 302
    assert _submission(praho_committing, invoice_id).state == S.PENDING
