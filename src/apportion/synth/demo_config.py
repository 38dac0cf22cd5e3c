"""The demo's allocation rules: the ``dimensions:`` and ``rules:`` part of apportion.yaml.

A literal template: every name in it is a use case of :data:`ORGANISATION` (the tests check),
and the uncategorised SaaS lines are deliberately left unmatched so they land in
``__unallocated__``.
"""

from __future__ import annotations

PROJECTS_FILE = "openai-projects.csv"
# the platform services, as the other service's driver rows name them when they consume it
TOOLING = "ml-platform-tooling"  # the ML platform, in the observability stack's requests
OBSERVABILITY = "observability-stack"  # the observability team, in the ML platform's seats
CATALOGUE_FILE = "catalogue.csv"

DEMO_RULES_YAML = f"""\
dimensions: [cost_centre, use_case, environment, lifecycle_stage]
tags:
  # The cost centres and use cases the organisation recognises; a use case's row names its
  # cost centre, so cost split to a use case (labelling, red team) reaches its cost centre.
  catalogue: {CATALOGUE_FILE}
  # OpenAI's bill names the project, not tags: the project list says whose each one is.
  inherit:
    - {{file: {PROJECTS_FILE}, column: SubAccountId}}
rules:
  # Workloads with their own API key, project, workspace or deployment: the line's tags (or
  # its project's row in the mapping table) say who spent it.
  - name: owned-spend
    match: "use_case IS NOT NULL"
    method: direct
  # Shared resources, split each day by what each use case measured on that resource. The
  # GPU cluster's teams pay for the GPU time they reserved or used, whichever is more; what
  # nobody reserved or used is the platform team's, visible as its __idle__ line.
  - name: gpu-inference-cluster
    match: "ResourceId = 'eks-gpu-prod'"
    method: proportional
    driver: gpu_seconds
    window: day
    reservations: gpu_reserved_seconds
    idle:
      capacity: gpu_capacity_seconds
      charge: keep
      owner: {{cost_centre: ml-platform, environment: production, lifecycle_stage: active}}
  - name: bedrock-shared-key
    match: "ResourceId = 'bedrock-shared-key'"
    method: proportional
    driver: tokens
    window: day
  - name: vector-store
    match: "ResourceId = 'pinecone-shared'"
    method: proportional
    driver: vector_queries
    window: day
  - name: feature-store
    match: "ResourceId = 'feature-store-prod'"
    method: proportional
    driver: feature_reads
    window: day
  - name: data-pipelines
    match: "ResourceId LIKE 'glue-%' OR ResourceId LIKE 'emr-%'"
    method: proportional
    driver: pipeline_job_seconds
    window: day
  # Platform costs with no per-resource metering: split by an activity proxy. The two
  # platform services use each other (observability watches the ML platform's tooling, whose
  # notebooks the observability team uses): a rule group solves that cycle.
  - name: observability
    match: "(x_Category = 'observability' AND use_case IS NULL) OR use_case = '{OBSERVABILITY}'"
    method: activity
    driver: requests
    window: month
  - name: ml-platform-licences
    match: "(x_Category = 'platform_licences' AND use_case IS NULL) OR use_case = '{TOOLING}'"
    method: activity
    driver: seats
    window: month
  # People: red-team work before the general personnel rule, which would also match it.
  - name: red-team-programme
    match: "tags['programme'] = 'red-team'"
    method: fixed
    shares:
      use_case:
        support-bot: 60
        fraud-scorer: 40
  - name: labelling
    match: "x_Category = 'personnel'"
    method: even
    targets:
      use_case: [doc-search, kyc-extractor, fraud-scorer, call-summariser]
rule_groups:
  - name: platform-services
    rules: [observability, ml-platform-licences]
    method: reciprocal
"""


# The usual path (MISSION R4): foundation-model spend and dedicated inference move to
# chargeback first, the rest stays on showback; Marketing pilots its models on showback a
# while longer. The modes start in the demo's own month.
DEMO_LEDGER_YAML = """\
ledger:
  modes:
    - {{category: foundation_model_api, mode: chargeback, effective_from: "{period}"}}
    - {{category: self_hosted_compute, mode: chargeback, effective_from: "{period}"}}
    - {{category: foundation_model_api, payer: marketing, mode: showback, effective_from: \
"{period}"}}
  accounts:
    expense: "6420"                  # AI services expense, each cost centre's own ledger
    expense_by_payer: {{ml-platform: "6425"}}
    recovery: "4890"                 # AI platform cost recovery
"""


# The monthly review: model spend moves a few percent a month with traffic, so its lines are
# asked about from 12% (and 2,000 USD); everything else from 20% (and 1,000 USD).
DEMO_REVIEW_YAML = """\
review:
  thresholds:
    - {category: "*", absolute: 1000, percent: 20}
    - {category: foundation_model_api, absolute: 2000, percent: 12}
"""


def demo_config_yaml(period: str = "2026-10") -> str:
    """The demo's ``dimensions:``, ``tags:``, ``rules:``, ``ledger:`` and ``review:`` YAML."""
    return DEMO_RULES_YAML + DEMO_LEDGER_YAML.format(period=period) + DEMO_REVIEW_YAML
