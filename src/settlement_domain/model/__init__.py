"""The aggregates, one module each, with their events beside them.

Stored events name their class by topic (``module:Class.Event``). The aggregates lived directly in
``settlement_domain`` before this package existed; their old topics are registered here so that
events and snapshots stored under them still load.
"""

from __future__ import annotations

from eventsourcing.utils import register_topic

from settlement_domain.model.backfill import Import
from settlement_domain.model.completeness import DataCompleteness
from settlement_domain.model.distribution_list import DistributionList, ListStatus
from settlement_domain.model.export import Export
from settlement_domain.model.family import FAMILY_IDS_KEY, Family, FamilyKey
from settlement_domain.model.folder_read import FolderRead, ListingRead
from settlement_domain.model.idempotency import IdempotencyRecord
from settlement_domain.model.letter import FALLBACK_AFTER, Channel, Delivery, Letter, LetterKind
from settlement_domain.model.minor_capacity import CapacityStatus, MinorCapacity
from settlement_domain.model.municipality import Municipality
from settlement_domain.model.quota import QuotaYear
from settlement_domain.model.refugee import DateSource, Refugee
from settlement_domain.model.support_case import SupportCase

# Topics the log holds from before the move (old module:class) -> the class today.
MOVED_TOPICS = {
    "settlement_domain.municipality:Municipality": Municipality,
    "settlement_domain.quota:QuotaYear": QuotaYear,
    "settlement_domain.refugee:Refugee": Refugee,
    "settlement_domain.refugee:Family": Family,
    "settlement_domain.refugee:PersonFolderView": FolderRead,
    "settlement_domain.distribution_list:DistributionList": DistributionList,
    "settlement_domain.minor_capacity:MinorCapacity": MinorCapacity,
    "settlement_domain.support_case:SupportCase": SupportCase,
    "settlement_domain.letter:Letter": Letter,
    "settlement_domain.idempotency:IdempotencyRecord": IdempotencyRecord,
}
for _topic, _cls in MOVED_TOPICS.items():
    register_topic(_topic, _cls)

__all__ = [
    "FALLBACK_AFTER",
    "FAMILY_IDS_KEY",
    "CapacityStatus",
    "Channel",
    "DataCompleteness",
    "DateSource",
    "Delivery",
    "DistributionList",
    "Export",
    "Family",
    "FamilyKey",
    "FolderRead",
    "IdempotencyRecord",
    "Import",
    "Letter",
    "LetterKind",
    "ListStatus",
    "ListingRead",
    "MinorCapacity",
    "Municipality",
    "QuotaYear",
    "Refugee",
    "SupportCase",
]
