"""`flask demo load`: a realistic sample agency to explore the product with."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import click
from flask.cli import AppGroup
from sqlmodel import Session, func, select

from outreach.auth.models import Role, User
from outreach.auth.passwords import hash_password
from outreach.campaigns.models import (
    AssetType,
    Campaign,
    CampaignKind,
    Client,
    ContentAsset,
    CostEntry,
    CostKind,
)
from outreach.db import db_session
from outreach.links.models import LinkType, Placement, PlacementStatus, Rel
from outreach.mail.models import (
    CampaignMailbox,
    Mailbox,
    Sequence,
    SequenceStep,
    Template,
    TransportSecurity,
)
from outreach.prospects.models import (
    Contact,
    Domain,
    EmailStatus,
    Prospect,
    ProspectTag,
    Stage,
    StageChange,
    Tag,
)
from outreach.prospects.services import FIRST_REACHED, refresh_search_text

DEMO_EMAIL = "demo@outreach.example"
DEMO_PASSWORD = "outreach-demo"  # noqa: S105  (published in the README on purpose)

demo_cli = AppGroup("demo", help="Sample data to explore the app with.")

_WORDS = (
    "green thumb garden urban balcony leaf soil seed bloom harvest herb compost planter sprout "
    "petal root terrace patio botanic meadow orchard grow fern moss bonsai"
).split()
_SUFFIXES = ("blog", "daily", "hub", "journal", "life", "corner", "weekly", "guide", "lab")
_FIRST = "Anna Tom Mia Lukas Sara Jonas Emma Noah Lea Ben Ida Finn Zoe Paul Nora Max".split()
_LAST = "Grün Keller Novak Smith Berg Rossi Weber Dubois Silva Hall Moreau Lind".split()
_PAGES = ("write-for-us", "resources", "blog")
_LINK_TYPES = {
    CampaignKind.GUEST_POST: LinkType.GUEST_POST,
    CampaignKind.EXPERT_ROUNDUP: LinkType.EXPERT_ROUNDUP,
    CampaignKind.LOCAL_CITATION: LinkType.LOCAL_CITATION,
}

# How the demo prospects spread over the pipeline.
_STAGE_WEIGHTS = {
    Stage.PROSPECT: 45,
    Stage.CONTACTED: 25,
    Stage.REPLIED: 10,
    Stage.LINKED: 10,
    Stage.DECLINED: 7,
    Stage.LOST: 3,
}
_PIPELINE = [Stage.PROSPECT, Stage.CONTACTED, Stage.REPLIED, Stage.LINKED]


def _domains(rng: random.Random, count: int) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        name = f"{rng.choice(_WORDS)}{rng.choice(['', '-'])}{rng.choice(_SUFFIXES)}"
        names.add(f"{name}.example")
    return sorted(names)


def _path_to(stage: Stage) -> list[Stage]:
    """The stages a prospect passed through to reach `stage`."""
    if stage in _PIPELINE:
        return _PIPELINE[: _PIPELINE.index(stage) + 1]
    before = Stage.REPLIED if stage is Stage.DECLINED else Stage.LINKED
    return [*_PIPELINE[: _PIPELINE.index(before) + 1], stage]


def load_demo(session: Session, today: date) -> User:
    """Fill an empty database with one agency's work in one transaction; returns the demo user."""
    rng = random.Random(20261124)  # noqa: S311  (sample data, not security)
    password_hash = hash_password(DEMO_PASSWORD)

    def user(email: str, role: Role, name: str, rate: str) -> User:
        account = User(
            email=email,
            name=name,
            role=role,
            password_hash=password_hash,
            hourly_rate=Decimal(rate),
        )
        session.add(account)
        return account

    admin = user(DEMO_EMAIL, Role.ADMIN, "Demo Admin", "65")
    manager = user("maria@outreach.example", Role.MANAGER, "Maria Manager", "55")
    builders = [
        user(f"{name.lower()}@outreach.example", Role.BUILDER, name, rate)
        for name, rate in (("Ben", "35"), ("Ida", "30"))
    ]
    session.flush()

    client = Client(
        name="Green Balcony Co.",
        domain="greenbalcony.example",
        website="https://greenbalcony.example/",
        brand_terms="Green Balcony, GreenBalcony",
        business_name="Green Balcony Co.",
        street_address="Kastanienallee 12",
        locality="Berlin",
        postal_code="10435",
        country="DE",
        phone="+49 30 1234567",
    )
    session.add(client)
    session.flush()

    start = today - timedelta(days=120)
    specs = [
        ("Balcony gardening guide: guest posts", CampaignKind.GUEST_POST, 160, "6000"),
        ("Urban gardening expert round-up", CampaignKind.EXPERT_ROUNDUP, 90, "2500"),
        ("Berlin shop: local citations", CampaignKind.LOCAL_CITATION, 60, "800"),
    ]
    domain_names = _domains(rng, 220)
    domains = [Domain(name=name) for name in domain_names]
    domains[-1].do_not_contact = True
    domains[-1].do_not_contact_reason = "Asked not to be contacted again"
    session.add_all(domains)
    session.flush()
    contacts: dict[int, Contact] = {}
    for domain in domains:
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        contact = Contact(
            domain_id=domain.id,
            first_name=first,
            last_name=last,
            role=rng.choice(["Editor", "Owner", "Content lead", "Marketing manager"]),
            email=f"{first.lower()}@{domain.name}",
            email_status=EmailStatus.VALID,
        )
        session.add(contact)
        contacts[domain.id] = contact
    session.flush()

    template_texts = [
        (
            "First pitch",
            "A resource for {{ prospect.domain }} readers",
            "Hi {{ contact.first_name }},\n\nI enjoyed your piece on {{ prospect.domain }}. "
            "We just published {{ asset.url }}, which your readers may find useful.\n\n"
            "Would you consider linking to it?",
        ),
        (
            "Follow-up",
            "Re: A resource for {{ prospect.domain }} readers",
            "Hi {{ contact.first_name }}, just bumping this up in case it got buried.",
        ),
        (
            "Last nudge",
            "Re: A resource for {{ prospect.domain }} readers",
            "Hi {{ contact.first_name }}, last note from me: happy to send a short summary.",
        ),
    ]
    mailbox = Mailbox(
        owner_id=manager.id,
        email="maria@greenbalcony.example",
        from_name="Maria from Green Balcony",
        # A local catch-all (`python -m tests.mailservers smtp --port 1025`) so that demo
        # emails go nowhere real; no IMAP account, so nothing polls an absent server.
        smtp_host="127.0.0.1",
        smtp_port=1025,
        smtp_security=TransportSecurity.NONE,
        window_start=time(9, 0),
        window_end=time(17, 0),
    )
    session.add(mailbox)
    session.flush()

    domain_pool = list(domains[:-1])
    for index, (name, kind, size, budget) in enumerate(specs):
        campaign = Campaign(
            name=name,
            kind=kind,
            client_id=client.id,
            client_url="https://greenbalcony.example/guides/balcony-gardening/",
            goal=f"{size // 8} live links by the end date",
            target_links=size // 8,
            budget=Decimal(budget),
            starts_on=start + timedelta(days=index * 14),
            ends_on=today + timedelta(days=90),
            timezone="Europe/Berlin",
            owner_id=manager.id,
        )
        session.add(campaign)
        session.flush()
        asset = ContentAsset(
            campaign_id=campaign.id,
            title="The small-space balcony gardening guide",
            url="https://greenbalcony.example/guides/balcony-gardening/",
            asset_type=AssetType.GUIDE,
            target_keywords="balcony gardening, small space garden",
        )
        session.add(asset)
        session.add(CampaignMailbox(campaign_id=campaign.id, mailbox_id=mailbox.id))
        session.add(
            CostEntry(
                campaign_id=campaign.id,
                kind=CostKind.CONTENT,
                amount=Decimal("450.00"),
                incurred_on=campaign.starts_on,
                note="Guide writing and design",
                created_by_id=manager.id,
            )
        )
        session.flush()
        templates = [
            Template(campaign_id=campaign.id, name=t, subject=s, body=b, owner_id=manager.id)
            for t, s, b in template_texts
        ]
        session.add_all(templates)
        sequence = Sequence(campaign_id=campaign.id, name="Pitch and two follow-ups")
        session.add(sequence)
        session.flush()
        for position, (template, delay) in enumerate(zip(templates, (0, 4, 7), strict=True), 1):
            session.add(
                SequenceStep(
                    sequence_id=sequence.id,
                    position=position,
                    delay_days=delay,
                    template_id=template.id,
                )
            )

        for domain in rng.sample(domain_pool, size):
            stage = rng.choices(list(_STAGE_WEIGHTS), weights=list(_STAGE_WEIGHTS.values()))[0]
            owner = rng.choice(builders)
            created = datetime.combine(start, time(9), UTC) + timedelta(
                days=rng.randint(0, 60), minutes=rng.randint(0, 600)
            )
            prospect = Prospect(
                campaign_id=campaign.id,
                domain_id=domain.id,
                page_url=f"https://{domain.name}/{rng.choice(_PAGES)}",
                stage=stage,
                owner_id=owner.id,
                asset_id=asset.id,
                primary_contact_id=contacts[domain.id].id,
                domain_rating=rng.randint(5, 85),
                traffic=rng.randint(200, 250_000),
                relevance=rng.randint(1, 5),
                created_at=created,
            )
            session.add(prospect)
            session.flush()
            moved = created
            previous: Stage | None = None
            for step in _path_to(stage):
                if previous is not None:
                    moved += timedelta(days=rng.randint(1, 9), hours=rng.randint(0, 8))
                session.add(
                    StageChange(
                        prospect_id=prospect.id,
                        from_stage=previous,
                        to_stage=step,
                        changed_at=moved,
                        changed_by_id=owner.id,
                        reason="import" if previous is None else "manual",
                    )
                )
                previous = step
                first_reached = FIRST_REACHED.get(step)
                if first_reached:
                    setattr(prospect, first_reached, moved)
            prospect.stage_changed_at = moved
            if stage in (Stage.CONTACTED, Stage.REPLIED, Stage.LINKED):
                domain.last_contacted_at = max(domain.last_contacted_at or moved, moved)
                domain.last_contacted_by_id = owner.id
            if stage in (Stage.LINKED, Stage.LOST):
                paid = rng.random() < 0.2
                anchor = rng.choice(["balcony gardening guide", "Green Balcony", "this guide"])
                found = "sponsored" if paid else rng.choice(["live"] * 5 + ["nofollow"])
                session.add(
                    Placement(
                        prospect_id=prospect.id,
                        campaign_id=campaign.id,
                        page_url=f"https://{domain.name}/balcony-gardening-tips",
                        target=campaign.client_url,
                        expected_anchor=anchor,
                        expected_rel=Rel.SPONSORED if paid else Rel.FOLLOW,
                        link_type=_LINK_TYPES[kind],
                        asset_id=asset.id,
                        cost=Decimal(rng.choice(["80", "120", "150"])) if paid else None,
                        paid=paid,
                        promised_on=moved.date(),
                        status=PlacementStatus.LIVE
                        if stage is Stage.LINKED
                        else PlacementStatus.LOST,
                        first_live_at=moved,
                        lost_at=None
                        if stage is Stage.LINKED
                        else min(moved + timedelta(days=40), datetime.combine(today, time(8), UTC)),
                        last_verdict=found if stage is Stage.LINKED else "missing",
                        found_verdict=found,
                        found_anchor=anchor,
                        created_by_id=owner.id,
                    )
                )
    session.flush()
    refresh_search_text(session, [domain.id for domain in domains])
    tagged = session.exec(select(Prospect.id).order_by(Prospect.id)).all()
    for name, every in (("gardening", 3), ("high-priority", 7), ("diy", 5)):
        tag = Tag(name=name)
        session.add(tag)
        session.flush()
        session.add_all(ProspectTag(prospect_id=pid, tag_id=tag.id) for pid in tagged[::every])
    session.commit()
    return admin


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has any user.")
def load(if_empty: bool) -> None:
    """Load the sample agency and print the demo login."""
    session = db_session()
    if session.exec(select(func.count()).select_from(User)).one():
        if if_empty:
            click.echo("The database already has users; no demo data loaded.")
            return
        raise click.ClickException(
            "The database already has data; demo data goes into an empty database only."
        )
    load_demo(session, date.today())
    click.echo(f"Demo data loaded. Sign in as {DEMO_EMAIL} with the password {DEMO_PASSWORD}")
