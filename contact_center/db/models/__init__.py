"""All tables; importing this module registers every model on Base.metadata."""

from contact_center.db.models.console import CannedReply, KnowledgeArticle, KnowledgeCategory, WrapUpCode
from contact_center.db.models.conversations import Conversation, Message, RoutingEventRecord
from contact_center.db.models.customers import (
    Customer,
    CustomerEvent,
    CustomerIdentity,
    CustomerMerge,
    CustomerNote,
    CustomerSearchKey,
)
from contact_center.db.models.email import EmailOutbox, EmailSuppression
from contact_center.db.models.orders import Order, OrderItem
from contact_center.db.models.queues import Queue
from contact_center.db.models.satisfaction import SatisfactionRating
from contact_center.db.models.statistics import IntervalStat, ReasonStat
from contact_center.db.models.telephony import SmsOptOut, VoiceCall, WebhookReceipt
from contact_center.db.models.tickets import (
    BusinessCalendar,
    Notification,
    SlaPolicy,
    Ticket,
    TicketArticle,
    TicketCategory,
    TicketConversation,
    TicketEscalation,
    TicketEvent,
    TicketSla,
    TicketSurvey,
    TicketView,
)
from contact_center.db.models.users import ApiToken, AuditEntry, Session, Skill, Team, User, UserSkill

__all__ = [
    "ApiToken",
    "AuditEntry",
    "BusinessCalendar",
    "CannedReply",
    "Conversation",
    "Customer",
    "CustomerEvent",
    "CustomerIdentity",
    "CustomerMerge",
    "CustomerNote",
    "CustomerSearchKey",
    "EmailOutbox",
    "EmailSuppression",
    "IntervalStat",
    "KnowledgeArticle",
    "KnowledgeCategory",
    "Message",
    "Notification",
    "Order",
    "OrderItem",
    "Queue",
    "ReasonStat",
    "RoutingEventRecord",
    "SatisfactionRating",
    "Session",
    "Skill",
    "SlaPolicy",
    "SmsOptOut",
    "Team",
    "Ticket",
    "TicketArticle",
    "TicketCategory",
    "TicketConversation",
    "TicketEscalation",
    "TicketEvent",
    "TicketSla",
    "TicketSurvey",
    "TicketView",
    "User",
    "UserSkill",
    "VoiceCall",
    "WebhookReceipt",
    "WrapUpCode",
]
