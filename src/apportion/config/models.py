"""The shape of apportion.yaml. Every model forbids unknown keys so a typo is an error, not a
silently ignored setting."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from apportion.config.anomalies import AnomaliesConfig
from apportion.config.categories import CATEGORIES, DEFAULT_CATEGORY_RULES
from apportion.config.forecasts import ForecastsConfig
from apportion.config.ledger import ALL_CATEGORIES, LedgerConfig
from apportion.config.playbooks import PlaybooksConfig
from apportion.config.review import ReviewConfig
from apportion.money import exact_sum
from apportion.rules.columns import check_names
from apportion.rules.expr import MatchError, parse_match, referenced_columns
from apportion.schema.currency import ISO_4217
from apportion.schema.focus import canonical_name
from apportion.schema.tables import UNCATEGORISED

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
DEFAULT_DIMENSIONS = ("cost_centre", "use_case", "environment", "lifecycle_stage")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _simple_name(value: str, example: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"use lower-case letters, digits, '-', '_' or '.' (e.g. '{example}')")
    return value


def _check_match(text: str) -> str:
    try:
        parse_match(text)
    except MatchError as exc:
        raise ValueError(str(exc)) from exc
    return text


class _RuleBase(_Strict):
    name: str
    match: str

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, value: str) -> str:
        return _simple_name(value, "gpu-cluster")

    @field_validator("match")
    @classmethod
    def _match_parses(cls, value: str) -> str:
        return _check_match(value)


class _AllocatingRule(_RuleBase):
    # values for the dimensions a target still lacks once the rule, the cost it splits and
    # the catalogue have spoken (a driver whose rows name no environment): instead of
    # __unallocated__; over the workspace's dimension_defaults
    defaults: dict[str, str] = Field(default_factory=dict)


class DirectRule(_AllocatingRule):
    """The line belongs to the workload named by its own tags."""

    method: Literal["direct"]


class _DriverRule(_AllocatingRule):
    driver: str
    window: Literal["day", "month"] = "month"
    # a pool its driver measured nothing for: stays unallocated (with why), is split evenly
    # between every target the driver measured in the month, or goes to the target named
    on_zero: Literal["unallocated", "even"] | dict[str, str] = "unallocated"


CONSUMED_QUANTITY = "ConsumedQuantity"  # idle capacity read from the cost lines themselves


class IdleCapacity(_Strict):
    """A shared resource's capacity per window, so what its users did not use is a line of
    its own instead of being spread over them unseen. ``capacity``: a driver measured per
    window on the resource (GPU-seconds available), or ``ConsumedQuantity``: what the cost
    lines themselves say was bought; in the unit of the rule's driver either way.
    ``charge``: ``keep`` the idle part visible as the ``__idle__`` use case (of ``owner``'s
    cost centre, if named), ``spread`` it over the users by their use, or charge it to the
    ``owner``."""

    capacity: str
    charge: Literal["keep", "spread", "owner"] = "keep"
    owner: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _owner_when_charged(self) -> IdleCapacity:
        if self.charge == "owner" and not self.owner:
            raise ValueError(
                "charge: owner needs the owner, e.g. owner: {cost_centre: ml-platform}"
            )
        return self


class ProportionalRule(_DriverRule):
    """Split by a driver measured on the pool's own resource (driver rows whose resource_id is
    the line's ResourceId)."""

    method: Literal["proportional"]
    idle: IdleCapacity | None = None
    # a driver of capacity each consumer reserved (Kubernetes requests beside usage): each
    # pays max(reserved, used) of each window, and only the rest is idle
    reservations: str | None = None


class ActivityRule(_DriverRule):
    """Split by a proxy driver that is not tied to the line's resource."""

    method: Literal["activity"]
    # only the driver rows of this resource (a gateway's model group, a span's provider): a
    # shared project is split by its own traffic, not by everything the gateway carried
    driver_resource: str | None = None
    # a key from cost instead of driver rows: the cost of the lines this matches, by each
    # line's dimension values (a shared database by each product's compute spend); the
    # driver then names the key in lineage (apportion.allocate.cost_keys)
    cost_of: str | None = None
    cost_metric: Literal["EffectiveCost", "BilledCost", "ListCost", "ContractedCost"] = (
        "EffectiveCost"
    )
    # or the cost these rules have allocated to each target (a platform fee split by each use
    # case's allocated spend); the rules must have split their cost in this rule's generation
    # or before (apportion.allocate.cost_keys)
    allocated_by: list[str] = Field(default_factory=list)

    @field_validator("cost_of")
    @classmethod
    def _cost_of_parses(cls, value: str | None) -> str | None:
        return None if value is None else _check_match(value)

    @model_validator(mode="after")
    def _cost_or_resource(self) -> ActivityRule:
        if self.cost_of is not None and self.driver_resource is not None:
            raise ValueError("cost_of weighs bill lines, which have no driver_resource: give one")
        if self.allocated_by and (self.cost_of is not None or self.driver_resource is not None):
            raise ValueError(
                "allocated_by weighs allocations: give it without cost_of or driver_resource"
            )
        if self.allocated_by and self.window != "month":
            raise ValueError("allocated_by weighs the month's allocations: give it window: month")
        return self


Target = dict[str, str]  # dimension -> value: one target of an even or fixed rule


def _check_targets(targets: list[Target]) -> list[Target]:
    if not targets:
        raise ValueError("list at least one target")
    seen: set[tuple[tuple[str, str], ...]] = set()
    for target in targets:
        if not target or any(not str(v).strip() for v in target.values()):
            raise ValueError("every target names at least one dimension, each with a value")
        key = tuple(sorted(target.items()))
        if key in seen:
            raise ValueError(f"target {dict(key)} is listed twice")
        seen.add(key)
    return targets


class EvenRule(_AllocatingRule):
    """Split equally between targets: the values of one dimension (``{use_case: [a, b]}``),
    or targets that name several dimensions each (``[{cost_centre: x, use_case: a}, ...]``).
    A target keeps every dimension it does not name from the cost it splits."""

    method: Literal["even"]
    targets: dict[str, list[str]] | list[Target]

    @field_validator("targets")
    @classmethod
    def _targets_listed(
        cls, value: dict[str, list[str]] | list[Target]
    ) -> dict[str, list[str]] | list[Target]:
        if isinstance(value, dict) and len(value) != 1:
            raise ValueError("name exactly one dimension, e.g. {use_case: [a, b]}, or list targets")
        _check_targets(_even_targets(value))
        return value

    def target_weights(self) -> list[tuple[Target, Decimal]]:
        """Each target with its weight, in a fixed order (sorted), so a split never depends
        on how the rule was written."""
        return sorted(
            ((target, Decimal(1)) for target in _even_targets(self.targets)),
            key=lambda pair: sorted(pair[0].items()),
        )


def _even_targets(value: dict[str, list[str]] | list[Target]) -> list[Target]:
    if isinstance(value, list):
        return value
    return [{dimension: name} for dimension, names in value.items() for name in names]


class FixedRule(_AllocatingRule):
    """Split by fixed percentages that sum to 100: of one dimension's values
    (``{use_case: {a: 60, b: 40}}``), or of targets that name several dimensions each
    (``[{cost_centre: x, use_case: a, share: 60}, ...]``)."""

    method: Literal["fixed"]
    shares: dict[str, dict[str, Decimal]] | list[dict[str, str | Decimal]]

    @field_validator("shares")
    @classmethod
    def _sum_to_100(
        cls, value: dict[str, dict[str, Decimal]] | list[dict[str, str | Decimal]]
    ) -> dict[str, dict[str, Decimal]] | list[dict[str, str | Decimal]]:
        if isinstance(value, dict) and len(value) != 1:
            raise ValueError("name exactly one dimension, e.g. {use_case: {a: 60, b: 40}}")
        shares = _fixed_targets(value)
        if not shares:
            raise ValueError("list at least one share")
        _check_targets([target for target, _ in shares])
        if any(share <= 0 for _, share in shares):
            raise ValueError("every share must be positive")
        total = exact_sum(share for _, share in shares)
        if total != 100:
            raise ValueError(f"shares must sum to 100, they sum to {total}")
        return value

    def target_weights(self) -> list[tuple[Target, Decimal]]:
        return sorted(_fixed_targets(self.shares), key=lambda pair: sorted(pair[0].items()))


def _fixed_targets(
    value: dict[str, dict[str, Decimal]] | list[dict[str, str | Decimal]],
) -> list[tuple[Target, Decimal]]:
    if isinstance(value, dict):
        return [
            ({dimension: name}, share)
            for dimension, shares in value.items()
            for name, share in shares.items()
        ]
    found = []
    for entry in value:
        share = entry.get("share")
        if share is None:
            raise ValueError("every target in a list of shares needs `share: <percent>`")
        try:
            percent = Decimal(str(share))
        except ArithmeticError:
            raise ValueError(f"share {share!r} is not a number") from None
        if not percent.is_finite():
            raise ValueError(f"share {share!r} is not a number")
        found.append(({k: str(v) for k, v in entry.items() if k != "share"}, percent))
    return found


Rule = Annotated[
    DirectRule | ProportionalRule | ActivityRule | EvenRule | FixedRule,
    Field(discriminator="method"),
]


class RuleGroup(_Strict):
    """Rules for shared services that use each other (a platform that runs the observability
    stack, which in turn watches the platform). Cost that moves between them is solved as a
    whole instead of being refused as a cycle:

    - ``reciprocal``: the simultaneous equations, solved exactly in rational arithmetic, so
      every service carries its share of the others' cost, including what they took from it;
    - ``step-down``: ``rules`` in precedence order; a rule's shares to itself and to rules
      before it are dropped (and reported), the rest renormalised.

    Either way each cost entering the group is split once, by the solved shares, straight to
    the targets outside the group."""

    name: str
    rules: list[str]
    method: Literal["reciprocal", "step-down"]

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, value: str) -> str:
        return _simple_name(value, "platform")

    @field_validator("rules")
    @classmethod
    def _rules_listed_once(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list the rules of the group")
        if len(set(value)) != len(value):
            raise ValueError("list each rule once")
        return value


class QuantitySplit(_Strict):
    """A quantity that is not money (energy in kWh, emissions in kgCO2e, GPU-hours), measured
    per window and resource by one driver (``source``) and split between the consumers by
    another (``key``): reported in its own unit beside the cost (``report quantities``)."""

    name: str
    unit: str
    source: str
    key: str
    window: Literal["day", "month"] = "day"

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, value: str) -> str:
        return _simple_name(value, "energy")

    @model_validator(mode="after")
    def _key_is_another_driver(self) -> QuantitySplit:
        if self.key == self.source:
            raise ValueError(f"quantity {self.name!r}: its key must be another driver")
        if not self.unit.strip():
            raise ValueError(f"quantity {self.name!r}: name its unit (kWh, kgCO2e, GPU-hours)")
        return self


class CategoryRule(_Strict):
    category: str
    match: str

    @field_validator("match")
    @classmethod
    def _match_parses(cls, value: str) -> str:
        return _check_match(value)


class EngineConfig(_Strict):
    """The data plane. DuckDB keeps its tables in its own file unless ``storage`` names a
    folder or URL for shared Parquet tables; Spark always uses such a store."""

    type: Literal["duckdb", "spark"] = "duckdb"
    path: str = Field(default="apportion.duckdb", description="DuckDB's file")
    storage: str | None = Field(
        default=None,
        description="Parquet tables partitioned by period and source: a folder or a URL "
        "(s3://, gs://, hdfs://); the Spark engine's default is the folder 'tables'",
    )
    memory_limit: str | None = Field(default=None, description="DuckDB spills beyond this")
    threads: int | None = Field(default=None, ge=1)
    master: str | None = Field(
        default=None,
        description="Spark master URL (local[*], spark://host:7077, yarn, ...); without it "
        "the session already active in the process, else local mode",
    )
    conf: dict[str, str | bool | int | float] = Field(
        default_factory=dict, description="Spark settings, e.g. spark.executor.cores: 4"
    )

    @model_validator(mode="after")
    def _engine_settings(self) -> EngineConfig:
        if self.type == "duckdb" and (self.master or self.conf):
            raise ValueError("master and conf are Spark settings; this engine is duckdb")
        return self

    @property
    def spark_conf(self) -> dict[str, str]:
        """The settings as Spark takes them: text, with booleans as true/false."""
        return {
            key: str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in self.conf.items()
        }

    @property
    def store_location(self) -> str | None:
        return self.storage or ("tables" if self.type == "spark" else None)  # DEFAULT_STORE


# value rules that hold wherever these dimensions are used (MISSION R2)
DEFAULT_ALLOWED_VALUES: dict[str, list[str]] = {
    "environment": ["production", "staging", "development", "research"],
    "lifecycle_stage": ["active", "deprecated", "sunsetting"],
}


class InheritedTags(_Strict):
    """A mapping table: dimension values for every line whose bill column (``column``) holds
    one of the table's keys, such as cost centres by sub-account or use cases by project."""

    file: str = Field(
        description="CSV relative to the workspace: the column named by `column`, one column "
        "per dimension it sets (an empty cell sets nothing), and optionally `effective_from` "
        "(a date: the row applies from then until the key's next row)"
    )
    column: str = Field(description="The bill column to look up, e.g. SubAccountId or x_ProjectId")


class _Effective(_Strict):
    """Dates between which a rule or price applies (from inclusive, until exclusive)."""

    effective_from: date | None = Field(
        default=None, description="Applies to charges from this date (so a fix can reach back)"
    )
    effective_until: date | None = Field(
        default=None, description="Applies to charges before this date"
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> _Effective:
        start, end = self.effective_from, self.effective_until
        if start and end and end <= start:
            raise ValueError("effective_until must be after effective_from")
        return self


class VirtualTag(_RuleBase, _Effective):
    """A first-match mapping rule: lines its ``match`` selects get the values in ``set``."""

    set: dict[str, str]
    override: bool = Field(
        default=False,
        description="Replace the line's own tag and inherited values (default: fill only gaps)",
    )

    @field_validator("set")
    @classmethod
    def _sets_values(cls, value: dict[str, str]) -> dict[str, str]:
        if not value or any(not v.strip() for v in value.values()):
            raise ValueError("set at least one dimension, each to a non-empty value")
        return value


class TagPolicyConfig(_Strict):
    """What every resource must be tagged with (``apportion tags check``)."""

    required: list[str] | None = Field(
        default=None, description="Dimensions every resource must carry (default: all of them)"
    )
    allowed: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_ALLOWED_VALUES.items()},
        description="Allowed values per dimension; a dimension not listed takes any value",
    )
    catalogue: str | None = Field(
        default=None,
        description="CSV or YAML of allowed values (dimension, value, owner), relative to the "
        "workspace; its values add to `allowed`",
    )
    aliases: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Other key names that mean a dimension, e.g. {cost_centre: [team]}; "
        "spelling variants (CostCenter, cost-centre, user:cost_centre) need no alias",
    )

    inherit: list[InheritedTags] = Field(
        default_factory=list,
        description="Mapping tables, most specific first: a line without its own tag takes "
        "the value of the first table that has one for it",
    )
    virtual: list[VirtualTag] = Field(
        default_factory=list,
        description="Ordered mapping rules for what tags and tables leave open; the first "
        "rule that matches a line sets each dimension",
    )

    @field_validator("allowed")
    @classmethod
    def _values_listed(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for dimension, values in value.items():
            if not values or any(not v.strip() for v in values):
                raise ValueError(f"{dimension}: list at least one value, none of them empty")
        return value


class PriceOverride(_Effective):
    """A negotiated price or a model no public list knows (``pricing.overrides``)."""

    name: str
    provider: str = Field(description="Provider id as the usage names it: openai, anthropic, ...")
    model: str = Field(
        description="The model. A discount covers every model whose name starts so "
        "(gpt-4.1 also covers gpt-4.1-mini-2025-04-14); unit prices cover the model and its "
        "dated versions only (gpt-4.1-2025-04-14)"
    )
    discount: Decimal | None = Field(
        default=None, gt=0, lt=100, description="Percent off the list price (genai-prices)"
    )
    unit_prices: dict[str, Decimal] | None = Field(
        default=None,
        description="Prices per million tokens (input, cache_read, cache_write, cache_write_1h, "
        "output) or per thousand web_searches, in USD, replacing the list price",
    )

    @model_validator(mode="after")
    def _one_way_to_price(self) -> PriceOverride:
        if (self.discount is None) == (self.unit_prices is None):
            raise ValueError(f"override {self.name!r}: give either discount or unit_prices")
        unknown = set(self.unit_prices or {}) - set(UNIT_PRICE_KEYS)
        if unknown:
            raise ValueError(
                f"override {self.name!r}: unknown unit price {sorted(unknown)[0]!r}; use "
                + ", ".join(UNIT_PRICE_KEYS)
            )
        if any(price < 0 for price in (self.unit_prices or {}).values()):
            raise ValueError(f"override {self.name!r}: a unit price cannot be negative")
        return self


# what a unit price may be given for: per million tokens, web searches per thousand, the rest as
# their comments say
UNIT_PRICE_KEYS = (
    "input",
    "cache_read",
    "cache_write",
    "cache_write_1h",
    "output",
    "web_searches",
    "input_audio",
    "output_audio",
    "characters",  # per million characters of speech
    "audio_hours",  # per hour of audio transcribed
    "images",  # per image
)


class PricingConfig(_Strict):
    """How token usage is priced: the public list (genai-prices) and these overrides, the last
    matching override winning (list general ones first)."""

    overrides: list[PriceOverride] = Field(default_factory=list)

    @field_validator("overrides")
    @classmethod
    def _names_unique(cls, value: list[PriceOverride]) -> list[PriceOverride]:
        names = [override.name for override in value]
        if len(set(names)) != len(names):
            raise ValueError("every price override needs its own name")
        return value


class UnitEconomicsConfig(_Strict):
    """Where "high" starts on the two axes of the portfolio view (per currency); unset, each
    is the median of the portfolio's own use cases."""

    high_total: Decimal | None = Field(default=None, gt=0)
    high_cost_per_decision: Decimal | None = Field(default=None, gt=0)


class Config(_Strict):
    version: Literal[1] = 1
    engine: EngineConfig = EngineConfig()
    control_plane: str = "sqlite:///apportion.sqlite"
    default_currency: str = Field(
        default="USD", description="Used only for FOCUS files that have no BillingCurrency column."
    )
    dimensions: list[str] = Field(default_factory=lambda: list(DEFAULT_DIMENSIONS))
    categories: list[CategoryRule] = Field(
        default_factory=lambda: [CategoryRule(**rule) for rule in DEFAULT_CATEGORY_RULES]
    )
    rules: list[Rule] = Field(default_factory=list)
    rule_groups: list[RuleGroup] = Field(default_factory=list)
    dimension_defaults: dict[str, str] = Field(default_factory=dict)
    quantities: list[QuantitySplit] = Field(default_factory=list)
    tags: TagPolicyConfig = TagPolicyConfig()
    pricing: PricingConfig = PricingConfig()
    ledger: LedgerConfig = LedgerConfig()
    unit_economics: UnitEconomicsConfig = UnitEconomicsConfig()
    anomalies: AnomaliesConfig = AnomaliesConfig()
    playbooks: PlaybooksConfig = PlaybooksConfig()
    review: ReviewConfig = ReviewConfig()
    forecasts: ForecastsConfig = ForecastsConfig()

    def rule(self, name: str) -> Rule | None:
        """The allocation rule of that name, if there is one."""
        return next((rule for rule in self.rules if rule.name == name), None)

    def group_of(self, rule: str) -> RuleGroup | None:
        """The rule group a rule belongs to, if any."""
        return next((group for group in self.rule_groups if rule in group.rules), None)

    def defaults_of(self, rule: Rule | None) -> dict[str, str]:
        """What an allocation of ``rule`` takes for a dimension nothing else gave a value:
        the rule's defaults over the workspace's."""
        if rule is None:
            return {}
        return {**self.dimension_defaults, **rule.defaults}

    @field_validator("default_currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if value not in ISO_4217:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return value

    @field_validator("dimensions")
    @classmethod
    def _dimension_names(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one dimension")
        for name in value:
            if not re.match(r"^[a-z][a-z0-9_]*$", name):
                raise ValueError(f"dimension {name!r}: use lower-case letters, digits and '_'")
        if len(set(value)) != len(value):
            raise ValueError("dimensions must be unique")
        return value

    @model_validator(mode="after")
    def _tag_policy_names_dimensions(self) -> Config:
        policy = self.tags
        named = {
            "tags.required": policy.required or [],
            "tags.allowed": list(policy.allowed),
            "tags.aliases": list(policy.aliases),
            **{f"tags.virtual {v.name!r}": list(v.set) for v in policy.virtual},
        }
        for where, dimensions in named.items():
            for dimension in dimensions:
                # the default value rules apply only where their dimension is configured
                defaulted = where == "tags.allowed" and dimension in DEFAULT_ALLOWED_VALUES
                if dimension not in self.dimensions and not defaulted:
                    raise ValueError(
                        f"{where} names {dimension!r}, which is not one of the dimensions "
                        f"{self.dimensions}"
                    )
        names = [virtual.name for virtual in policy.virtual]
        if len(set(names)) != len(names):
            raise ValueError("tags.virtual: every rule needs its own name")
        for virtual in policy.virtual:
            self._check_virtual_match(virtual)
        for table in policy.inherit:
            if canonical_name(table.column) is None and not table.column.startswith("x_"):
                raise ValueError(
                    f"tags.inherit {table.file}: column {table.column!r} is not a FOCUS column "
                    "or an x_ extension column"
                )
        return self

    def _check_virtual_match(self, virtual: VirtualTag) -> None:
        match = parse_match(virtual.match)
        try:
            check_names(match, self.dimensions)
        except MatchError as exc:
            raise ValueError(f"tags.virtual {virtual.name!r}: {exc}") from exc
        derived = sorted(referenced_columns(match) & set(self.dimensions))
        if derived:
            # a bare dimension is the value these rules derive: reading it here is circular
            raise ValueError(
                f"tags.virtual {virtual.name!r}: match reads the dimension {derived[0]!r}, which "
                f"these rules set; test the line's own tag with tags['{derived[0]}']"
            )

    @model_validator(mode="before")
    @classmethod
    def _ledger_defaults(cls, data: Any) -> Any:
        """The payer is cost_centre and the workload use_case where those dimensions exist;
        otherwise the first dimension pays and the next itemises."""
        if not isinstance(data, dict) or not isinstance(data.get("ledger", {}), dict):
            return data
        dims = data.get("dimensions") or list(DEFAULT_DIMENSIONS)
        if not isinstance(dims, list) or not all(isinstance(d, str) for d in dims):
            return data
        ledger = dict(data.get("ledger") or {})
        ledger.setdefault("payer", "cost_centre" if "cost_centre" in dims else dims[0])
        rest = [d for d in dims if d != ledger["payer"]] or dims
        ledger.setdefault("workload", "use_case" if "use_case" in rest else rest[0])
        return {**data, "ledger": ledger}

    @model_validator(mode="after")
    def _ledger_names_what_exists(self) -> Config:
        ledger = self.ledger
        for role in ("payer", "workload"):
            name = getattr(ledger, role)
            if name not in self.dimensions:
                raise ValueError(
                    f"ledger.{role} is {name!r}, which is not one of the dimensions "
                    f"{self.dimensions}"
                )
        known = {*CATEGORIES, *(rule.category for rule in self.categories), UNCATEGORISED}
        for mode in ledger.modes:
            if mode.category != ALL_CATEGORIES and mode.category not in known:
                raise ValueError(
                    f"ledger.modes names the category {mode.category!r}; choose from "
                    f"{', '.join(sorted(known))} or *"
                )
        for threshold in self.review.thresholds:
            if threshold.category != ALL_CATEGORIES and threshold.category not in known:
                raise ValueError(
                    f"review.thresholds names the category {threshold.category!r}; choose "
                    f"from {', '.join(sorted(known))} or *"
                )
        return self

    @model_validator(mode="after")
    def _rules_are_consistent(self) -> Config:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"rule {rule.name!r} is defined twice")
            seen.add(rule.name)
            try:
                check_names(parse_match(rule.match), self.dimensions)
                if isinstance(rule, ActivityRule) and rule.cost_of is not None:
                    check_names(parse_match(rule.cost_of), self.dimensions)
            except MatchError as exc:
                raise ValueError(f"rule {rule.name!r}: {exc}") from exc
            named = (
                {d for target, _ in rule.target_weights() for d in target}
                if isinstance(rule, EvenRule | FixedRule)
                else set()
            )
            for dimension in sorted(named):
                if dimension not in self.dimensions:
                    raise ValueError(
                        f"rule {rule.name!r} allocates to {dimension!r}, which is not one of "
                        f"the dimensions {self.dimensions}"
                    )
            self._check_defaults(f"rule {rule.name!r} defaults", rule.defaults)
            if isinstance(rule, ActivityRule):
                self._check_allocated_by(rule)
            if isinstance(rule, ProportionalRule) and rule.idle is not None:
                self._check_defaults(f"rule {rule.name!r} idle owner", rule.idle.owner)
            if isinstance(rule, ProportionalRule | ActivityRule) and isinstance(rule.on_zero, dict):
                if not rule.on_zero:
                    raise ValueError(f"rule {rule.name!r} on_zero: name a target's values")
                self._check_defaults(f"rule {rule.name!r} on_zero", rule.on_zero)
        self._check_defaults("dimension_defaults", self.dimension_defaults)
        return self

    def _check_allocated_by(self, rule: ActivityRule) -> None:
        """The rules a key of allocations names exist and come before it."""
        names = [r.name for r in self.rules]
        for name in rule.allocated_by:
            if name not in names:
                raise ValueError(f"rule {rule.name!r} allocated_by names {name!r}, no rule")
            if names.index(name) >= names.index(rule.name):
                raise ValueError(
                    f"rule {rule.name!r} allocated_by names {name!r}, which does not come "
                    "before it: list the rules whose allocations it weighs before it"
                )

    def _check_defaults(self, where: str, defaults: dict[str, str]) -> None:
        for dimension, value in defaults.items():
            if dimension not in self.dimensions:
                raise ValueError(
                    f"{where} names {dimension!r}, which is not one of the dimensions "
                    f"{self.dimensions}"
                )
            if not str(value).strip():
                raise ValueError(f"{where}: give {dimension!r} a value")

    @model_validator(mode="after")
    def _quantities_named_once(self) -> Config:
        names = [quantity.name for quantity in self.quantities]
        if len(set(names)) != len(names):
            raise ValueError("quantities: every quantity needs its own name")
        return self

    @model_validator(mode="after")
    def _rule_groups_name_group_rules(self) -> Config:
        grouped: dict[str, str] = {}
        names = [group.name for group in self.rule_groups]
        if len(set(names)) != len(names):
            raise ValueError("rule_groups: every group needs its own name")
        for group in self.rule_groups:
            for name in group.rules:
                where = f"rule_groups {group.name!r}"
                rule = self.rule(name)
                if rule is None:
                    raise ValueError(f"{where} names the rule {name!r}, which is not defined")
                if name in grouped:
                    raise ValueError(f"{where}: rule {name!r} is already in {grouped[name]!r}")
                grouped[name] = group.name
                _check_groupable(where, rule)
        return self


def _check_groupable(where: str, rule: Rule) -> None:
    """A group solves one set of shares per rule and month: its rules split whole amounts by
    shares known for the month (even, fixed, or an activity driver read monthly)."""
    if isinstance(rule, DirectRule | ProportionalRule):
        raise ValueError(
            f"{where}: rule {rule.name!r} is {rule.method}; a group's rules split a service's "
            "cost by shares (even, fixed, or activity with window: month)"
        )
    if isinstance(rule, ActivityRule) and (rule.cost_of is not None or rule.allocated_by):
        raise ValueError(
            f"{where}: rule {rule.name!r} weighs by cost (cost_of); a group's rules split by "
            "shares or driver rows"
        )
    if isinstance(rule, ActivityRule) and rule.window != "month":
        raise ValueError(
            f"{where}: rule {rule.name!r} reads its driver by day; a group solves one set of "
            "shares per month, so give it window: month"
        )
