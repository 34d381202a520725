"""Word lists and the taxonomy tree that demo/generator.py draws its demo data from."""

import re
from decimal import Decimal

from roles.models import Component

# --- Vocabulary -------------------------------------------------------------------------------
# Superfunction CODE Name SOC-major; function CODE Name | nouns | SOC codes for manual mappings;
# family CODE Name | themes (the first names the role). Indentation gives the tree.
TREE = """
TECH Technology 15-0000
  SWE Software Engineering | Engineer; Developer; Programmer | 15-1252 15-1254 15-1253
    SWEBE Backend Engineering | Backend; Server-Side; API; Distributed Systems
    SWEFE Frontend Engineering | Frontend; Web UI; JavaScript; User Interface
    SWEMOB Mobile Engineering | Mobile; iOS; Android; Mobile App
    SWEEMB Embedded Software | Embedded Software; Firmware; Real-Time Systems; IoT
    SWEFS Full-Stack Engineering | Full-Stack; Web Application; Product Engineering; Software
    SWEQA Quality Engineering | Quality; Test Automation; QA; Software Test
  DATA Data and AI | Engineer; Scientist; Analyst | 15-2051 15-2041 15-1221 15-2031
    MLENG Machine Learning Engineering | Machine Learning; Deep Learning; Statistical Modeling; AI
    DATSCI Data Science | Data Science; Predictive Analytics; Experimentation; Applied Statistics
    DATENG Data Engineering | Data; ETL; Data Pipeline; Big Data
    ANLYT Analytics | Analytics; Business Intelligence; Reporting; Insights
    AIRES AI Research | AI Research; Natural Language Processing; Computer Vision; Reinforcement Learning
    MLOPS ML Operations | MLOps; ML Platform; Model Operations; Feature Store
  INFRA Infrastructure and Operations | Engineer; Administrator; Specialist | 15-1244 15-1242 15-1299
    CLOUD Cloud Engineering | Cloud; AWS; Azure; Cloud Infrastructure
    SRE Site Reliability Engineering | Site Reliability; Reliability; Production; Observability
    NETENG Network Engineering | Network; Networking; WAN; Network Infrastructure
    DBADM Database Administration | Database; SQL; PostgreSQL; Data Platform
    DEVOPS DevOps | DevOps; Build and Release; CI/CD; Platform
    SYSADM Systems Administration | Systems; Linux; Windows Server; Infrastructure
  SEC Information Security | Engineer; Analyst; Specialist | 15-1212 15-1299
    SECOPS Security Operations | Security Operations; Incident Response; Threat Detection; SOC
    APPSEC Application Security | Application Security; Product Security; Secure Development; AppSec
    IAM Identity and Access Management | Identity; Access Management; IAM; Directory Services
    GRC Governance, Risk and Compliance | GRC; IT Compliance; IT Risk; Security Governance
    OFFSEC Offensive Security | Penetration Testing; Red Team; Ethical Hacking; Vulnerability Research
  ITSVC IT Services | Specialist; Technician; Analyst | 15-1232 15-1211
    SVCDSK Service Desk | Service Desk; Help Desk; IT Support; Technical Support
    ENDPT Endpoint Management | Endpoint; Desktop; Device Management; End User Computing
    ITSM IT Service Management | ITSM; IT Service; Change Management; Problem Management
    BUSSYS Business Systems | Business Systems; ERP; CRM; Salesforce
    ITAM IT Asset Management | IT Asset; Software Asset; Licensing; Hardware Asset
PROD Product and Design 27-0000
  PM Product Management | Manager; Owner; Strategist | 13-1082 13-1111 11-2021
    PMCORE Core Product | Product; Technical Product; Digital Product
    PMGRO Growth Product | Growth Product; Monetization; Product Growth
    PMPLAT Platform Product | Platform Product; API Product; Developer Platform
    PMDATA Data Product | Data Product; Analytics Product; AI Product
    PMOPS Product Operations | Product Operations; Product Analytics; Product Launch
  UX User Experience Design | Designer; Researcher; Specialist | 27-1024 15-1255
    UXDES Product Design | Product Design; UX; Interaction Design
    UXRES User Research | User Research; UX Research; Usability
    VISDES Visual Design | Visual Design; Graphic Design; Brand Design
    CONDES Content Design | Content Design; UX Writing; Information Architecture
    ACCESS Accessibility | Accessibility; Inclusive Design; Digital Accessibility
  CONT Content and Communications | Writer; Editor; Specialist | 27-3042 27-3031 27-3043
    TECHWR Technical Writing | Technical Writing; Documentation; API Documentation
    COMMS Corporate Communications | Communications; Internal Communications; Public Relations
    CONTMK Content Marketing | Content; Editorial; Copywriting
    MEDIA Media Production | Video Production; Multimedia; Podcast
    SOCIAL Social Media | Social Media; Community; Digital Engagement
ENGR Engineering and Manufacturing 17-0000
  HWE Hardware Engineering | Engineer; Designer; Technologist | 17-2071 17-2141 17-2072
    ELECEN Electrical Engineering | Electrical; Power Electronics; Circuit Design
    MECHEN Mechanical Engineering | Mechanical; Mechanical Design; Thermal
    SILCON Silicon Engineering | ASIC; Chip Design; Silicon Validation
    RFENG RF Engineering | RF; Antenna; Wireless
    SYSENG Systems Engineering | Systems Engineering; Requirements; Integration
  MFG Manufacturing and Quality | Engineer; Technician; Specialist | 17-2112 17-2141 17-3026
    MFGENG Manufacturing Engineering | Manufacturing; Process; Production
    QUALEN Quality Assurance | Quality Assurance; Quality Control; Supplier Quality
    INDENG Industrial Engineering | Industrial; Lean; Continuous Improvement
    RELENG Reliability Engineering | Reliability Engineering; Failure Analysis; Product Test
    EHS Environment, Health and Safety | EHS; Safety; Environmental Compliance
BUSN Business Operations 13-0000
  FIN Finance | Analyst; Accountant; Specialist | 13-2011 13-2051 11-3031
    ACCT Accounting | Accounting; General Ledger; Financial Reporting
    FPA Financial Planning and Analysis | FP&A; Financial Planning; Budgeting
    TREAS Treasury | Treasury; Cash Management; Liquidity
    TAX Tax | Tax; Indirect Tax; Transfer Pricing
    AUDIT Internal Audit | Internal Audit; Audit; Controls
  HR People | Partner; Specialist; Advisor | 13-1071 11-3121 13-1141
    HRBP HR Business Partnering | HR Business; People Partner; Employee Relations
    TALENT Talent Acquisition | Talent Acquisition; Recruiting; Sourcing
    COMPBN Compensation and Benefits | Compensation; Benefits; Total Rewards
    LRNDEV Learning and Development | Learning; Training; Leadership Development
    PPLOPS People Operations | People Operations; HR Operations; HRIS
  OPS Operations and Supply Chain | Specialist; Analyst; Coordinator | 13-1081 13-1082 11-3071
    SUPPLY Supply Chain | Supply Chain; Demand Planning; Inventory
    PROCUR Procurement | Procurement; Strategic Sourcing; Vendor Management
    LOGIST Logistics | Logistics; Transportation; Warehouse
    PMO Project Management | Project Management; Program Management; Delivery
    BIZOPS Business Operations | Business Operations; Operations Strategy; Process Improvement
  STRAT Strategy and Legal | Consultant; Analyst; Counsel | 13-1111 23-1011 13-1199
    STRATG Corporate Strategy | Strategy; Corporate Development; M&A
    MGMTCN Management Consulting | Management Consulting; Business Transformation; Organizational Change
    LEGAL Legal | Legal; Commercial Contracts; Corporate Law
    PRIVCY Privacy | Privacy; Data Protection; Privacy Compliance
    RISK Enterprise Risk | Enterprise Risk; Risk Management; Business Continuity
GTM Sales and Marketing 41-0000
  SALES Sales | Representative; Executive; Consultant | 41-3091 41-4011 41-9031
    ENTSAL Enterprise Sales | Enterprise Sales; Strategic Accounts; Key Accounts
    INSALE Inside Sales | Inside Sales; Sales Development; Business Development
    CHANNL Channel Sales | Channel Sales; Partner Sales; Alliances
    SALENG Sales Engineering | Sales Engineering; Solutions; Pre-Sales
    SALOPS Sales Operations | Sales Operations; Revenue Operations; Sales Enablement
  MKT Marketing | Marketer; Specialist; Strategist | 13-1161 11-2021
    PRDMKT Product Marketing | Product Marketing; Go-to-Market; Launch Marketing
    DIGMKT Digital Marketing | Digital Marketing; Performance Marketing; SEO
    BRAND Brand Marketing | Brand; Creative; Campaign
    MKTOPS Marketing Operations | Marketing Operations; Marketing Automation; Marketing Analytics
    EVENTS Events and Field Marketing | Events; Field Marketing; Experiential Marketing
  CX Customer Experience | Specialist; Representative; Advisor | 43-4051 41-3091 13-1161
    CSM Customer Success | Customer Success; Client Success; Account Management
    SUPPRT Customer Support | Customer Support; Customer Service; Contact Center
    IMPLEM Implementation | Implementation; Onboarding; Professional Services
    CXOPS CX Operations | CX Operations; Support Operations; Workforce Management
    VOICE Customer Insights | Customer Insights; Voice of the Customer; CX Research
HLTH Health and Care 29-0000
  CLIN Clinical Practice | Practitioner; Clinician; Specialist | 29-1141 29-1171 29-1051 29-1123
    NURSE Nursing | Nursing; Critical Care; Emergency Care
    PHARM Pharmacy | Pharmacy; Clinical Pharmacy; Medication Safety
    THERAP Therapy | Physical Therapy; Occupational Therapy; Rehabilitation
    DIAGN Diagnostics | Radiology; Laboratory; Diagnostic Imaging
    BEHAV Behavioral Health | Behavioral Health; Mental Health; Counseling
  HADM Health Administration | Coordinator; Specialist; Analyst | 11-9111 29-2072 43-6013
    HINFO Health Informatics | Health Informatics; Clinical Informatics; EHR
    REVCYC Revenue Cycle | Revenue Cycle; Medical Billing; Medical Coding
    PATACC Patient Access | Patient Access; Patient Scheduling; Patient Services
    CLNOPS Clinical Operations | Clinical Operations; Clinical Trials; Research Coordination
    QLTYPS Quality and Patient Safety | Patient Safety; Healthcare Quality; Accreditation
"""

# Specializations: (code, name, sector added to titles). GEN comes first in every family.
SPECIALIZATIONS = [
    ("GEN", "General", ""),
    ("ENT", "Enterprise", "Enterprise"),
    ("FIN", "Financial Services", "Financial Services"),
    ("HLTH", "Healthcare", "Healthcare"),
    ("PUB", "Public Sector", "Public Sector"),
    ("RTL", "Retail", "Retail"),
    ("IND", "Industrial", "Industrial"),
    ("TEL", "Telecommunications", "Telecommunications"),
    ("ENR", "Energy", "Energy"),
    ("INTL", "International", "International"),
]

LEVEL_ORDER = ["P1", "P2", "P3", "P4", "P5", "P6", "M1", "M2", "M3", "M4"]

# name, summary, scope, autonomy, complexity, impact, decision rights, leadership, experience.
# P1 is the reference card's, word for word.
LEVELS = {
    "P1": (
        "Entry-Level Professional",
        "New to role or field; performs basic tasks under supervision",
        "Own tasks within a defined component",
        "Close supervision; work reviewed frequently",
        "Routine problems with known solutions",
        "Own deliverables",
        "Few independent decisions; escalates the rest",
        "None — building the craft",
        "0–2 yrs",
    ),
    "P2": (
        "Developing Professional",
        "Works independently on defined tasks; seeks guidance on new problems",
        "Features or work packages within a project",
        "General supervision; work reviewed at milestones",
        "Moderately complex problems with some variation",
        "Team deliverables",
        "Decides how to do own work within agreed plans",
        "Helps onboard newer colleagues",
        "2–4 yrs",
    ),
    "P3": (
        "Career Professional",
        "Fully competent; handles most problems without help",
        "A project or a service area",
        "Works independently; reviewed on results",
        "Complex problems needing analysis and judgement",
        "Project and team outcomes",
        "Chooses approach and methods for own area",
        "Mentors junior colleagues; may lead a work stream",
        "4–7 yrs",
    ),
    "P4": (
        "Senior Professional",
        "Recognised expert in the team; leads complex work",
        "Several projects or a product area",
        "Sets own objectives within team goals",
        "Ambiguous problems with no established solution",
        "Department outcomes",
        "Makes technical decisions for the area; consulted on plans",
        "Leads work streams; coaches and reviews others",
        "7–10 yrs",
    ),
    "P5": (
        "Principal Professional",
        "Authority in a discipline across the organisation",
        "Multiple teams or a whole discipline",
        "Broad latitude; accountable for long-term results",
        "Novel, strategic problems across domains",
        "Organisation-wide results",
        "Sets standards and direction for the discipline",
        "Leads through influence across teams",
        "10–15 yrs",
    ),
    "P6": (
        "Distinguished Professional",
        "Shapes the field inside and outside the organisation",
        "The organisation and its industry",
        "Self-directed; answers to executive leadership",
        "Problems that define the organisation's future",
        "Company strategy and industry practice",
        "Decides long-range professional direction",
        "Develops leaders; represents the organisation",
        "15+ yrs",
    ),
    "M1": (
        "Team Manager",
        "Manages a team delivering defined outcomes",
        "One team",
        "Plans the team's work within department objectives",
        "Operational problems and people matters",
        "Team results",
        "Hiring input, priorities and work allocation",
        "Manages individual contributors directly",
        "5–8 yrs",
    ),
    "M2": (
        "Senior Manager",
        "Manages managers or several teams",
        "Several teams or a function area",
        "Sets objectives for the area",
        "Cross-team trade-offs and resourcing",
        "Function results",
        "Budget and headcount for the area",
        "Manages managers; builds the team structure",
        "8–12 yrs",
    ),
    "M3": (
        "Director",
        "Leads a function or department",
        "A department or function",
        "Sets department strategy within company goals",
        "Strategic and organisational problems",
        "Business unit results",
        "Department budget, structure and strategy",
        "Leads senior managers; shapes the culture",
        "12–15 yrs",
    ),
    "M4": (
        "Executive",
        "Sets direction for a major part of the organisation",
        "A business unit or the whole organisation",
        "Answers to the chief executive or the board",
        "Enterprise-wide strategy and risk",
        "Company results",
        "Company-level strategy, investment and policy",
        "Leads the leadership team of a unit",
        "15+ yrs",
    ),
}

# Per level: the title pattern, then alias patterns ({t} theme, {n} noun), as job boards write them.
TITLES = {
    "P1": (
        "Entry-Level {t} {n}",
        [
            "{t} {n} I",
            "{t} {n} 1",
            "{t} I",
            "{t} 1",
            "Entry-Level {t}",
            "Junior {t} {n}",
            "Junior {t}",
            "Associate {t} {n}",
            "Associate {t}",
            "Graduate {t} {n}",
            "Trainee {t} {n}",
            "{t} {n} Intern",
        ],
    ),
    "P2": (
        "{t} {n}",
        [
            "{t} {n} II",
            "{t} {n} 2",
            "{t} II",
            "{t} 2",
            "Intermediate {t} {n}",
            "Mid-Level {t} {n}",
            "{t} Professional",
            "{t} Practitioner",
        ],
    ),
    "P3": (
        "Senior {t} {n}",
        [
            "{t} {n} III",
            "{t} {n} 3",
            "{t} III",
            "Senior {t}",
            "Experienced {t} {n}",
            "{t} Expert",
            "Senior {t} Professional",
        ],
    ),
    "P4": (
        "Lead {t} {n}",
        ["Staff {t} {n}", "{t} {n} IV", "Lead {t}", "Staff {t}", "{t} Tech Lead", "{t} Lead", "Senior Staff {t} {n}"],
    ),
    "P5": (
        "Principal {t} {n}",
        [
            "Principal {t}",
            "{t} Architect",
            "Principal {t} Architect",
            "{t} {n} V",
            "Chief {t} Architect",
            "Principal {t} Consultant",
        ],
    ),
    "P6": (
        "Distinguished {t} {n}",
        [
            "Distinguished {t}",
            "{t} Fellow",
            "Senior Principal {t} {n}",
            "Chief {t} Scientist",
            "{t} Distinguished Expert",
        ],
    ),
    "M1": (
        "{t} Manager",
        [
            "{t} Team Lead",
            "{t} Team Manager",
            "Manager, {t}",
            "{t} Supervisor",
            "{t} {n} Manager",
            "Manager of {t}",
            "{t} Team Leader",
        ],
    ),
    "M2": (
        "Senior {t} Manager",
        [
            "Senior Manager, {t}",
            "{t} Group Manager",
            "{t} Manager II",
            "Senior {t} {n} Manager",
            "{t} Area Manager",
            "Group Lead, {t}",
        ],
    ),
    "M3": (
        "Director of {t}",
        [
            "{t} Director",
            "Director, {t}",
            "Senior Director of {t}",
            "Head of {t}",
            "Director of {t} {n}s",
            "Associate Director, {t}",
        ],
    ),
    "M4": (
        "VP of {t}",
        [
            "Vice President, {t}",
            "VP, {t}",
            "Head of {t}",
            "Chief {t} Officer",
            "SVP, {t}",
            "Vice President of {t} {n}s",
            "Global Head of {t}",
        ],
    ),
}
ABBREVIATIONS = {
    "Senior": "Sr.",
    "Junior": "Jr.",
    "Associate": "Assoc.",
    "Engineer": "Eng.",
    "Manager": "Mgr.",
    "Director": "Dir.",
    "Vice President": "VP",
    "Specialist": "Spec.",
    "Administrator": "Admin",
    "Developer": "Dev",
    "Principal": "Princ.",
    "Representative": "Rep.",
    "Management": "Mgmt",
    "Technician": "Tech.",
    "Coordinator": "Coord.",
    "Intermediate": "Int.",
}
# Whole words only: "Engineers" stays as it is.
ABBREVIATION_RE = re.compile(r"\b(" + "|".join(ABBREVIATIONS) + r")\b")
QUALIFIERS = [
    "Contract",
    "Remote",
    "Hybrid",
    "Temporary",
    "EMEA",
    "APAC",
    "Americas",
    "Night Shift",
    "Part-Time",
    "Interim",
]
LEVEL_HEADLINES = {
    "P1": "{L} is an entry-level position in {a}, often a recent graduate or someone with less than 2 years "
    "of experience.",
    "P2": "{L} is a developing professional in {a} who works independently on well-defined problems, "
    "typically with 2–4 years of experience.",
    "P3": "{L} is an experienced {a} professional who owns projects end to end, typically with 4–7 years "
    "of experience.",
    "P4": "{L} is a senior {a} professional who leads complex work and sets the bar for the team.",
    "P5": "{L} is a principal-level {a} expert whose judgement shapes the discipline across teams.",
    "P6": "{L} is a distinguished {a} authority who sets long-range direction for the organisation.",
    "M1": "{L} manages a {a} team, balancing delivery with the growth of its people.",
    "M2": "{L} leads several {a} teams, or a sizeable area, through their managers.",
    "M3": "{L} directs the {a} function and owns its strategy, budget and structure.",
    "M4": "{L} is the executive accountable for {a} across the organisation.",
}
LEVEL_SUMMARIES = {
    "P1": "They require close guidance and mentorship to perform tasks.",
    "P2": "They need guidance on unfamiliar problems and check in at milestones.",
    "P3": "They work without supervision and help less experienced colleagues.",
    "P4": "They set the approach for their area and review the work of others.",
    "P5": "They set standards that several teams follow.",
    "P6": "They decide the long-range direction of the discipline.",
    "M1": "They hire, coach and plan the work of a single team.",
    "M2": "They manage managers and own the budget for their area.",
    "M3": "They own the function's strategy and answer for its results.",
    "M4": "They set company-level direction and represent the function to the board.",
}
WHO = [
    "{r} who strives to turn {t} work into results that matter to customers and colleagues.",
    "{r} who enjoys solving hard {t} problems and sharing what they learn.",
    "{r} who brings order, craft and curiosity to {t}.",
    "{r} who wants {t} to be dependable, measurable and easy to build on.",
    "{r} who connects {t} practice with what the business needs next.",
]
EXTERNAL = [
    "Organizations struggle to get value from {t}, leading to missed opportunities and wasted effort.",
    "Teams depend on {t} but lack the skills to do it well, so quality and speed suffer.",
    "Demand for {t} grows faster than the people able to deliver it.",
    "Customers expect more from {t} than current processes can deliver.",
]
INTERNAL = [
    "They feel overwhelmed by the complexity of {t} and the number of competing priorities.",
    "They worry that {t} work is invisible until something goes wrong.",
    "They find it hard to keep up with how quickly {t} practice changes.",
    "They are frustrated when {t} decisions are made without the facts.",
]
WHY = [
    "In a competitive market, strong {t} is not a benefit but a necessity.",
    "Good {t} work compounds: every improvement makes the next one cheaper.",
    "Without reliable {t}, the organisation cannot meet its commitments.",
    "People and customers notice when {t} is done well, and when it is not.",
]
PLAN = [
    "Assess the specific needs and constraints of the organisation.",
    "Agree clear goals and measures of success with stakeholders.",
    "Apply proven {t} methods to analyse the problem and find options.",
    "Build and deliver {t} solutions in small, tested increments.",
    "Collaborate with cross-functional teams so solutions fit business objectives.",
    "Document decisions and share what works with the wider team.",
    "Monitor results and refine the approach continuously.",
    "Retire what no longer adds value.",
]
STAKE = [
    "The work misses the organisation's real needs, and resources are wasted.",
    "Solutions do not scale or adapt, and the organisation falls behind.",
    "Errors go unnoticed until they reach customers.",
    "Trust in {t} erodes and decisions go back to guesswork.",
]
SUCCESS = [
    "The organisation makes better decisions with {t}, and productivity rises.",
    "Customers get a better experience and the business finds new revenue.",
    "{T} work is predictable, visible and valued across the organisation.",
    "Teams spend less time on rework and more on what matters.",
]
CORE_OUTPUTS = [
    "{T} roadmap",
    "Quarterly {t} report",
    "{T} standards and guidelines",
    "Reviewed {t} deliverables",
    "{T} runbook",
    "Stakeholder briefing on {t}",
    "{T} metrics dashboard",
    "Post-incident reviews",
]
COMPONENTS = {
    Component.Kind.RESPONSIBILITY: [
        "Designing and delivering {t} solutions",
        "Maintaining {t} work in production",
        "Reviewing the {t} work of colleagues",
        "Documenting {t} processes and decisions",
        "Collaborating with stakeholders on {t} priorities",
        "Improving the quality of {t} deliverables",
        "Estimating and planning {t} work",
        "Monitoring {t} outcomes and reporting on them",
        "Mentoring colleagues in {t} practice",
        "Identifying and managing risks in {t} projects",
        "Keeping {t} standards up to date",
        "Contributing to the {t} roadmap",
        "Evaluating new {t} tools and techniques",
        "Resolving escalated {t} issues",
    ],
    Component.Kind.TASK: [
        "Write {t} documentation",
        "Run {t} quality checks",
        "Prepare {t} status reports",
        "Attend {t} planning meetings",
        "Update {t} tickets and backlogs",
        "Analyse {t} data",
        "Present {t} findings",
        "Review {t} requests",
        "Test {t} changes",
        "Train users on {t}",
    ],
    Component.Kind.SKILL: [
        "{T} fundamentals",
        "Advanced {t}",
        "{T} tooling",
        "Python programming",
        "Data analysis",
        "Stakeholder communication",
        "Written communication",
        "Presentation skills",
        "Time management",
        "Project planning",
        "Negotiation",
        "Version control (e.g., Git)",
        "Spreadsheet modelling",
        "Root-cause analysis",
        "Requirements gathering",
    ],
    Component.Kind.KNOWLEDGE: [
        "{T} principles",
        "{T} best practices",
        "{T} tools and platforms",
        "Regulation affecting {t}",
        "Statistical analysis",
        "Software development lifecycle",
        "Data privacy and protection",
        "Budgeting basics",
        "Quality management",
        "Industry trends in {t}",
        "Risk management",
        "Information security basics",
        "Service management",
        "Basic data visualization",
    ],
    Component.Kind.COMPETENCY: [
        "Eagerness to learn",
        "Attention to detail",
        "Adaptability",
        "Ownership",
        "Team collaboration",
        "Problem-solving",
        "Customer focus",
        "Strategic thinking",
        "Influencing others",
        "Resilience",
        "Integrity",
        "Critical thinking",
        "Coaching others",
        "Decision making",
        "Sound {t} judgement",
    ],
    Component.Kind.QUALIFICATION: [
        "Bachelor’s degree in {f} or a related field",
        "Master’s degree in {f}",
        "Professional certification in {t}",
        "{x} of experience in {t}",
        "Internship experience in {t}",
        "Membership of a professional body for {t}",
        "Completed training in {t} methods",
    ],
}
# Card counts per kind (8/4/8/8/8/3): the split of components_per_role.
KIND_WEIGHTS = {
    Component.Kind.RESPONSIBILITY: 8,
    Component.Kind.TASK: 4,
    Component.Kind.SKILL: 8,
    Component.Kind.KNOWLEDGE: 8,
    Component.Kind.COMPETENCY: 8,
    Component.Kind.QUALIFICATION: 3,
}
PREVALENCE = ["common"] * 17 + ["core"] * 2 + ["emerging"]
SCOPE = ["level"] * 16 + ["family"] * 3 + ["role"]
ALIAS_SOURCES = ["card import"] * 6 + ["manual"] * 2 + ["job board"] * 2 + ["hr system"]
CONFIDENCE = {i: Decimal(i) / 100 for i in range(0, 101)}
