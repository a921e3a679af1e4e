"""The simulated health system's master data, as the EHR sees it.

Fixed data, identical on every run: three facilities, their clinical departments with the revenue
GL accounts and UB-04 revenue codes they post to, the patient financial services (PFS)
department that carries balance-sheet lines, and one department per facility that exists in the
EHR but that finance has not mapped yet. How these map to Fusion lives in the seeds
(`seeds/coa_crosswalk.csv`), not here.
"""

from __future__ import annotations

from dataclasses import dataclass

AR_ACCOUNT = "1200"
CASH_ACCOUNT = "1010"
CONTRACTUAL_ACCOUNT = "4900"
BALANCE_SHEET_ACCOUNTS = (AR_ACCOUNT, CASH_ACCOUNT, CONTRACTUAL_ACCOUNT)


@dataclass(frozen=True)
class Department:
    """An Epic department and the (GL account, UB-04 revenue code) pairs it posts revenue to."""

    facility_id: str
    department_id: str
    name: str
    revenue: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Facility:
    """A hospital: Epic facility code and the Fusion company it belongs to."""

    facility_id: str
    company: str
    name: str
    pfs_department_id: str
    clinical: tuple[Department, ...]
    unmapped: Department


# Name parts of the synthetic patient population (combined at random by the generators).
SURNAMES: tuple[str, ...] = (
    "ABBOTT",
    "ALVAREZ",
    "BAKER",
    "BENNETT",
    "BROOKS",
    "CARTER",
    "CHEN",
    "COLLINS",
    "DAVIS",
    "DIAZ",
    "EDWARDS",
    "EVANS",
    "FISHER",
    "FOSTER",
    "GARCIA",
    "GRAY",
    "HARRIS",
    "HAYES",
    "HUGHES",
    "JENKINS",
    "KELLY",
    "KIM",
    "LEE",
    "LOPEZ",
    "MARTIN",
    "MORGAN",
    "MURPHY",
    "NGUYEN",
    "OKAFOR",
    "PATEL",
    "PEREZ",
    "PRICE",
    "QUINN",
    "REED",
    "RIVERA",
    "ROSS",
    "SANDERS",
    "SHAW",
    "SINGH",
    "TAYLOR",
    "TORRES",
    "TURNER",
    "WALKER",
    "WARD",
    "WATSON",
    "WELLS",
    "WHITE",
    "WOOD",
    "YOUNG",
    "ZHANG",
)
GIVEN_NAMES: tuple[str, ...] = (
    "AARON",
    "ALICE",
    "AMIR",
    "ANNA",
    "BEATRIZ",
    "BEN",
    "CARLA",
    "CHLOE",
    "DANIEL",
    "DEEPA",
    "ELENA",
    "ELI",
    "FATIMA",
    "FELIX",
    "GRACE",
    "HANNAH",
    "HUGO",
    "IMANI",
    "IVAN",
    "JADE",
    "JAMES",
    "JUNE",
    "KAI",
    "LAURA",
    "LEO",
    "MAYA",
    "MILES",
    "NADIA",
    "NOAH",
    "OLIVIA",
    "OMAR",
    "PAUL",
    "PRIYA",
    "RAFAEL",
    "RUTH",
    "SAM",
    "SARA",
    "SOFIA",
    "TARIQ",
    "TESSA",
    "THEO",
    "URSULA",
    "VIOLET",
    "WES",
    "XENIA",
    "YARA",
    "YUSUF",
    "ZANE",
    "ZOE",
)

# (department number, name, revenue (account, revenue code) pairs); numbers are stable ids.
_TEMPLATES: tuple[tuple[int, str, tuple[tuple[str, str], ...]], ...] = (
    (1, "EMERGENCY DEPARTMENT", (("4010", "0450"), ("4011", "0451"))),
    (2, "MEDICAL SURGICAL UNIT", (("4100", "0120"), ("4101", "0250"))),
    (3, "INTENSIVE CARE UNIT", (("4110", "0200"), ("4111", "0250"))),
    (4, "LABORATORY", (("4200", "0300"), ("4201", "0301"), ("4202", "0302"))),
    (5, "RADIOLOGY", (("4210", "0320"), ("4211", "0350"), ("4212", "0610"))),
    (6, "PHARMACY", (("4220", "0250"), ("4221", "0636"))),
    (7, "SURGICAL SERVICES", (("4300", "0360"), ("4301", "0370"), ("4302", "0710"))),
    (8, "CARDIOLOGY", (("4310", "0480"), ("4311", "0730"))),
    (9, "REHABILITATION THERAPY", (("4320", "0420"), ("4321", "0430"))),
    (10, "RESPIRATORY THERAPY", (("4330", "0410"), ("4331", "0460"))),
    (11, "ONCOLOGY INFUSION", (("4410", "0335"), ("4411", "0260"))),
    (12, "LABOR AND DELIVERY", (("4400", "0720"), ("4401", "0170"))),
)
_UNMAPPED_TEMPLATE = (901, "URGENT CARE CLINIC NEW", (("4510", "0456"),))

# (facility id, company, name, number of clinical departments it runs)
_FACILITIES = (
    ("F01", "101", "ST MARY MAIN CAMPUS", 12),
    ("F02", "102", "ST MARY NORTH", 11),
    ("F03", "103", "ST MARY RIVERSIDE", 10),
)


def _department(facility_id: str, company: str, template: tuple) -> Department:
    number, name, revenue = template
    return Department(facility_id, f"{company}01{number:03d}", name, revenue)


def _build() -> tuple[Facility, ...]:
    return tuple(
        Facility(
            facility_id=fid,
            company=company,
            name=name,
            pfs_department_id=f"{company}09001",
            clinical=tuple(_department(fid, company, t) for t in _TEMPLATES[:n_departments]),
            unmapped=_department(fid, company, _UNMAPPED_TEMPLATE),
        )
        for fid, company, name, n_departments in _FACILITIES
    )


FACILITIES: tuple[Facility, ...] = _build()


def revenue_combinations(*, include_unmapped: bool) -> list[tuple[str, str, str, str]]:
    """(facility, department, account, revenue code) for every revenue line the EHR can post."""
    out = []
    for facility in FACILITIES:
        departments = facility.clinical + ((facility.unmapped,) if include_unmapped else ())
        for dept in departments:
            out.extend((facility.facility_id, dept.department_id, a, rc) for a, rc in dept.revenue)
    return out


def emitted_combinations(*, include_unmapped: bool) -> set[tuple[str, str, str]]:
    """(facility, department, account) for every line the journal feed can carry."""
    combos = {(f, d, a) for f, d, a, _ in revenue_combinations(include_unmapped=include_unmapped)}
    for facility in FACILITIES:
        combos.update(
            (facility.facility_id, facility.pfs_department_id, account)
            for account in BALANCE_SHEET_ACCOUNTS
        )
    return combos


def unmapped_department_ids() -> set[str]:
    """The departments that exist in the EHR but deliberately have no crosswalk rows."""
    return {facility.unmapped.department_id for facility in FACILITIES}


# Ambulatory (professional) charges: the ambulatory EHRs bill CPT codes, and each CPT code's
# revenue goes to one professional-fee revenue account (the EHR-style four-digit account finance
# keys its crosswalk by). Immunization administration (90471) is billed by the clinics but
# finance has not mapped it yet: its charges must wait as exceptions, never post to a default.
PROFESSIONAL_REVENUE: tuple[tuple[str, str], ...] = (
    ("99203", "4600"),  # office visit, new patient
    ("99213", "4600"),  # office visit, established patient
    ("99214", "4600"),
    ("99395", "4600"),  # preventive visit
    ("36415", "4610"),  # venipuncture
    ("80053", "4610"),  # comprehensive metabolic panel
    ("85025", "4610"),  # complete blood count
    ("71046", "4620"),  # chest X-ray
    ("93000", "4630"),  # electrocardiogram
)
UNMAPPED_PROFESSIONAL_REVENUE: tuple[tuple[str, str], ...] = (("90471", "4640"),)


@dataclass(frozen=True)
class Clinic:
    """An ambulatory clinic as its EHR names it: the source system, the location its charges
    carry (TouchWorks facility code, Practice Fusion practice id; '*' for the one organisation
    a Unity endpoint serves), the hospital facility (hence Fusion company) it reports under,
    and a stable clinic number."""

    source_system: str
    location_id: str
    facility_id: str
    number: int
    name: str


CLINICS: tuple[Clinic, ...] = (
    Clinic("touchworks", "F01", "F01", 1, "ST MARY MAIN CAMPUS PHYSICIAN CLINICS"),
    Clinic("touchworks", "F02", "F02", 2, "ST MARY NORTH PHYSICIAN CLINICS"),
    Clinic("touchworks", "F03", "F03", 3, "ST MARY RIVERSIDE PHYSICIAN CLINICS"),
    Clinic("practice_fusion", "pf1001", "F01", 4, "LAKESIDE FAMILY PRACTICE"),
    Clinic("practice_fusion", "pf1002", "F02", 5, "NORTHGATE PEDIATRICS"),
    Clinic("practice_fusion", "pf1003", "F03", 6, "RIVERSIDE INTERNAL MEDICINE"),
    Clinic("practice_fusion", "pf1004", "F01", 7, "PARKVIEW DERMATOLOGY"),
    Clinic("unity", "*", "F02", 8, "ST MARY MEDICAL GROUP"),
)


def clinic_company(clinic: Clinic) -> str:
    """The Fusion company of the facility a clinic reports under."""
    return next(f.company for f in FACILITIES if f.facility_id == clinic.facility_id)
