"""What the demo data is made of: countries, industries, job titles, campaigns, events, forms,
pages, lists, and the weights that make the activity realistic.
"""

from dataclasses import dataclass

from marketing_lists.models import MarketingList

CHUNK = 5000
# Accounts hold 8 contacts on average (with accounts, 80% of contacts): many, none huge.
CONTACTS_PER_ACCOUNT = 10


class DemoError(Exception):
    """The demo data cannot be written as asked; the message says why."""


@dataclass(frozen=True)
class Country:
    code: str
    locale: str
    weight: int
    languages: tuple[str, ...]
    domain: str
    free_mail: tuple[str, ...]
    places: tuple[tuple[str, str], ...]


COUNTRIES = (
    Country(
        "US",
        "en_US",
        40,
        ("en",),
        "com",
        ("gmail.com", "yahoo.com", "outlook.com"),
        (
            ("New York", "NY"),
            ("Chicago", "IL"),
            ("San Francisco", "CA"),
            ("Los Angeles", "CA"),
            ("Austin", "TX"),
            ("Houston", "TX"),
            ("Seattle", "WA"),
            ("Boston", "MA"),
            ("Denver", "CO"),
            ("Atlanta", "GA"),
            ("Miami", "FL"),
        ),
    ),
    Country(
        "GB",
        "en_GB",
        12,
        ("en",),
        "co.uk",
        ("gmail.com", "btinternet.com", "outlook.com"),
        (
            ("London", "England"),
            ("Manchester", "England"),
            ("Bristol", "England"),
            ("Edinburgh", "Scotland"),
            ("Glasgow", "Scotland"),
            ("Cardiff", "Wales"),
        ),
    ),
    Country(
        "DE",
        "de_DE",
        12,
        ("de",),
        "de",
        ("gmx.de", "web.de", "gmail.com"),
        (
            ("Berlin", "Berlin"),
            ("München", "Bayern"),
            ("Hamburg", "Hamburg"),
            ("Köln", "Nordrhein-Westfalen"),
            ("Frankfurt am Main", "Hessen"),
            ("Stuttgart", "Baden-Württemberg"),
        ),
    ),
    Country(
        "FR",
        "fr_FR",
        10,
        ("fr",),
        "fr",
        ("orange.fr", "free.fr", "gmail.com"),
        (
            ("Paris", "Île-de-France"),
            ("Lyon", "Auvergne-Rhône-Alpes"),
            ("Marseille", "Provence-Alpes-Côte d'Azur"),
            ("Toulouse", "Occitanie"),
            ("Bordeaux", "Nouvelle-Aquitaine"),
        ),
    ),
    Country(
        "CA",
        "en_CA",
        8,
        ("en", "en", "fr"),
        "ca",
        ("gmail.com", "outlook.com"),
        (
            ("Toronto", "ON"),
            ("Montréal", "QC"),
            ("Vancouver", "BC"),
            ("Calgary", "AB"),
            ("Ottawa", "ON"),
        ),
    ),
    Country(
        "ES",
        "es_ES",
        6,
        ("es",),
        "es",
        ("gmail.com", "hotmail.es"),
        (
            ("Madrid", "Comunidad de Madrid"),
            ("Barcelona", "Cataluña"),
            ("Valencia", "Comunidad Valenciana"),
            ("Sevilla", "Andalucía"),
        ),
    ),
    Country(
        "NL",
        "nl_NL",
        6,
        ("nl",),
        "nl",
        ("gmail.com", "ziggo.nl"),
        (
            ("Amsterdam", "Noord-Holland"),
            ("Rotterdam", "Zuid-Holland"),
            ("Utrecht", "Utrecht"),
            ("Eindhoven", "Noord-Brabant"),
        ),
    ),
    Country(
        "AU",
        "en_AU",
        6,
        ("en",),
        "com.au",
        ("gmail.com", "bigpond.com"),
        (
            ("Sydney", "NSW"),
            ("Melbourne", "VIC"),
            ("Brisbane", "QLD"),
            ("Perth", "WA"),
        ),
    ),
)

INDUSTRIES = (
    "software",
    "manufacturing",
    "construction",
    "mining",
    "retail",
    "healthcare",
    "financial services",
    "education",
    "logistics",
    "hospitality",
    "energy",
    "media",
)

JOB_TITLES = (
    "Chief Executive Officer",
    "Chief Marketing Officer",
    "Chief Technology Officer",
    "VP Sales",
    "VP Marketing",
    "Head of Growth",
    "Head of Operations",
    "Marketing Manager",
    "Product Marketing Manager",
    "Content Marketing Manager",
    "Marketing Operations Specialist",
    "Demand Generation Manager",
    "Sales Manager",
    "Account Executive",
    "Business Development Representative",
    "Customer Success Manager",
    "Product Manager",
    "Software Engineer",
    "Data Analyst",
    "IT Manager",
    "Procurement Manager",
    "Finance Director",
    "HR Manager",
    "Office Manager",
    "Consultant",
)

# (source, days before now, share of contacts mailed)
EMAIL_CAMPAIGNS = (
    ("spring-sale", 250, 0.45),
    ("product-launch", 200, 0.55),
    ("summer-newsletter", 150, 0.5),
    ("webinar-q3", 110, 0.4),
    ("autumn-offers", 45, 0.45),
    # The newest sends are days old, so "opened an email in the last 30 days" finds people.
    ("customer-summit", 12, 0.35),
    ("weekly-digest", 3, 0.3),
)
# (source, days before now, base and engagement-driven chance to register)
EVENTS = (("webinar-q3", 95, 0.06, 0.3), ("customer-summit", 25, 0.03, 0.2))
# (source, base and engagement-driven chance to submit)
FORMS = (
    ("newsletter-signup", 0.08, 0.05),
    ("demo-request", 0.02, 0.12),
    ("whitepaper-download", 0.04, 0.15),
    ("contact-us", 0.03, 0.02),
)
PAGES = (
    ("/", 30),
    ("/pricing", 15),
    ("/features", 12),
    ("/customers", 6),
    ("/blog/segmentation-101", 8),
    ("/blog/email-deliverability", 6),
    ("/docs", 10),
    ("/integrations", 5),
    ("/careers", 3),
    ("/contact", 5),
)
TRAFFIC = (
    ("organic_search", 40),
    ("direct", 25),
    ("paid_search", 12),
    ("email", 10),
    ("social", 8),
    ("referral", 5),
)
# (name, kind, public name, public description, share of contacts)
LISTS = (
    (
        "Monthly newsletter",
        MarketingList.Kind.SUBSCRIPTION,
        "Monthly newsletter",
        "Product tips, customer stories and what's new, once a month.",
        0.45,
    ),
    (
        "Product updates",
        MarketingList.Kind.SUBSCRIPTION,
        "Product updates",
        "Release notes and new features as they ship.",
        0.3,
    ),
    (
        "Events & webinars",
        MarketingList.Kind.SUBSCRIPTION,
        "Events and webinars",
        "Invitations to webinars, meetups and our yearly customer summit.",
        0.2,
    ),
    ("Trade show leads", MarketingList.Kind.STATIC, "", "", 0.04),
)
MEMBERSHIP_SOURCES = (("import", 5), ("website", 3), ("subscription_center", 2))
TIERS = (("gold", 1), ("silver", 3), ("bronze", 6))
FREQUENCIES = (("weekly", 3), ("monthly", 5), ("never", 2))


# One shared object, so that the insert adapts it once (see ``Table``).
NO_PROPERTIES: dict = {}

CONTACT_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "job_title",
    "birth_date",
    "city",
    "state",
    "country",
    "postal_code",
    "language",
    "lead_score",
    "customer_since",
    "do_not_email",
    "account",
    "attributes",
    "public_key",
)
INTERACTION_COLUMNS = (
    "contact",
    "type",
    "occurred_at",
    "source",
    "channel",
    "properties",
)
MEMBERSHIP_COLUMNS = ("list", "contact", "status", "subscribed_at", "unsubscribed_at", "source")
CONSENT_COLUMNS = ("contact", "list", "action", "at", "source", "basis")
# How a subscription came about, as the consent log names it.
CONSENT_SOURCES = {"import": "import", "website": "subscription_center"}
