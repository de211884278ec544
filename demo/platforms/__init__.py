"""Local stand-ins for the platforms the demo publishes to, served by the admin in demo mode.

Each speaks the subset of a real provider's documented API that our adapter calls, and stores
what it accepted in the Outbox (``demo.models.OutboxMessage``):

- ``email``: SendGrid v3 mail send, batches and cancelling a scheduled send;
- ``chat``: Slack's chat.postMessage and chat.delete;
- ``cms``: WordPress REST posts (create, update, find by slug, trash).

They are routed only while MARKETINGAI_DEMO_PLATFORMS is on (``urls``), behind one token read
from MARKETINGAI_DEMO_PLATFORM_TOKEN (``common``). A request they refuse stores nothing.
"""
