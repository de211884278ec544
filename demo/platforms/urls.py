"""The demo platforms' endpoints; marketingai/urls.py routes them under /demo-platforms/ only
while MARKETINGAI_DEMO_PLATFORMS is on."""

from django.urls import path

from demo.platforms import chat, cms, email

urlpatterns = [
    # The email platform's API base URL is …/demo-platforms/email (SendGrid: https://api.sendgrid.com).
    path("email/v3/mail/batch", email.batch_view, name="demo_email_batch"),
    path("email/v3/mail/send", email.send_view, name="demo_email_send"),
    path(
        "email/v3/user/scheduled_sends",
        email.scheduled_sends_view,
        name="demo_email_scheduled_sends",
    ),
    # The chat's API base URL is …/demo-platforms/chat/api (Slack: https://slack.com/api).
    path("chat/api/chat.postMessage", chat.post_message_view, name="demo_chat_post_message"),
    path("chat/api/chat.delete", chat.delete_view, name="demo_chat_delete"),
    # The CMS's site root (the API base URL) is …/demo-platforms/cms.
    path("cms/", cms.site_view, name="demo_cms_site"),
    path("cms/wp-json/wp/v2/posts", cms.posts_view, name="demo_cms_posts"),
    path("cms/wp-json/wp/v2/posts/<int:post_id>", cms.post_view, name="demo_cms_post"),
]
