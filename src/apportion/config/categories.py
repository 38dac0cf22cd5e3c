"""The eight AI cost categories (MISSION R1) and the default rules that assign them.

Rules are ordered; the first match wins, and a line no rule matches is ``uncategorised``.
They use the same safe match language as allocation rules, so a workspace can replace them in
apportion.yaml under ``categories:``.
"""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = (
    "foundation_model_api",
    "self_hosted_compute",
    "vector_store",
    "feature_store",
    "data_pipeline",
    "observability",
    "platform_licences",
    "personnel",
)

DEFAULT_CATEGORY_RULES: tuple[dict[str, str], ...] = (
    {
        "category": "personnel",
        "match": (
            "ServiceSubcategory IN ('Labelling', 'Data Labeling', 'Evaluation', 'Red Teaming')"
            " OR ProviderName IN ('Scale AI', 'Labelbox', 'Surge AI', 'Appen')"
            " OR tags['programme'] IN ('red-team', 'evaluation', 'labelling')"
        ),
    },
    {
        "category": "foundation_model_api",
        "match": (
            "ProviderName IN ('OpenAI', 'Anthropic', 'Cohere', 'Mistral AI')"
            " OR ServiceName IN ('Amazon Bedrock', 'Azure OpenAI Service', 'Azure OpenAI',"
            " 'Vertex AI Gemini API', 'Gemini API')"
            " OR PricingUnit ILIKE '%token%' OR ConsumedUnit ILIKE '%token%'"
        ),
    },
    {
        "category": "self_hosted_compute",
        "match": (
            "ResourceType ILIKE '%gpu%' OR SkuMeter ILIKE '%gpu%'"
            " OR ChargeDescription ILIKE '%gpu%' OR ChargeDescription ILIKE '%p4d.%'"
            " OR ChargeDescription ILIKE '%p5.%' OR ChargeDescription ILIKE '%g5.%'"
            " OR ChargeDescription ILIKE '%g6.%' OR ChargeDescription ILIKE '%a100%'"
            " OR ChargeDescription ILIKE '%h100%'"
            " OR ServiceName IN ('Amazon SageMaker', 'Azure Machine Learning', 'Vertex AI')"
        ),
    },
    {
        "category": "vector_store",
        "match": (
            "ProviderName IN ('Pinecone', 'Weaviate', 'Qdrant', 'Zilliz')"
            " OR ServiceName IN ('Pinecone', 'Weaviate Cloud', 'Qdrant Cloud', 'Zilliz Cloud',"
            " 'Amazon OpenSearch Serverless')"
            " OR ServiceSubcategory ILIKE '%vector%' OR ResourceName ILIKE '%vector%'"
        ),
    },
    {
        "category": "feature_store",
        "match": (
            "ServiceName ILIKE '%feature store%' OR ServiceName IN ('Tecton', 'Feast')"
            " OR ResourceName ILIKE '%feature-store%' OR ResourceId ILIKE '%feature-store%'"
        ),
    },
    {
        "category": "data_pipeline",
        "match": (
            "ServiceName IN ('AWS Glue', 'Amazon EMR', 'Amazon Kinesis', 'AWS Step Functions',"
            " 'Azure Data Factory', 'Dataflow', 'Cloud Dataflow', 'Dataproc')"
            " OR ServiceCategory = 'Analytics'"
        ),
    },
    {
        "category": "observability",
        "match": (
            "ServiceName IN ('Amazon CloudWatch', 'AWS X-Ray', 'Azure Monitor', 'Cloud Logging',"
            " 'Cloud Monitoring', 'Datadog', 'New Relic', 'Splunk', 'Langfuse', 'LangSmith')"
            " OR ProviderName IN ('Datadog', 'New Relic', 'Splunk')"
            " OR ServiceSubcategory ILIKE '%observability%'"
            " OR ServiceSubcategory ILIKE '%logging%' OR ServiceSubcategory ILIKE '%monitoring%'"
        ),
    },
    {
        "category": "platform_licences",
        "match": (
            "ProviderName IN ('Databricks', 'Weights & Biases', 'Dataiku', 'DataRobot',"
            " 'Domino Data Lab') OR PricingUnit ILIKE '%seat%'"
        ),
    },
)
