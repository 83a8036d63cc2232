"""Subscribe through the API, confirm as a reader would, and print the manage token.

Used by .ci/contract.sh so that schemathesis also reads a subscription that exists (a 200
answer checked against its schema), not only tokens it made up. Usage: BASE_URL MAIL_DIR.
"""

import email
import glob
import http.cookiejar
import json
import re
import sys
import time
import urllib.parse
import urllib.request

base, mail_dir = sys.argv[1], sys.argv[2]
request = urllib.request.Request(
    f"{base}/api/v1/subscriptions",
    data=json.dumps({"email": "contract@example.com", "topics": ["llm"], "keywords": "agents"}).encode(),
    headers={"content-type": "application/json"},
)
with urllib.request.urlopen(request) as r:
    assert r.status == 202, r.status

# With no SMTP relay the confirmation mail is written as an .eml file (among those the
# first pass caused).
def confirmation_mail():
    for path in glob.glob(f"{mail_dir}/**/*.eml", recursive=True):
        with open(path, "rb") as f:
            message = email.message_from_binary_file(f)
        if "contract@example.com" in message.get("To", ""):
            return message
    return None


deadline = time.monotonic() + 10
while (message := confirmation_mail()) is None:
    if time.monotonic() > deadline:
        sys.exit(f"no confirmation mail in {mail_dir}")
    time.sleep(0.1)
text = "".join(
    part.get_payload(decode=True).decode()
    for part in message.walk()
    if part.get_content_type() == "text/plain"
)
confirm = re.search(re.escape(base) + r"/confirm/[A-Za-z0-9_-]+", text).group(0)

# Confirming takes a POST with the form token from the page (and its cookie).
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
page = opener.open(confirm).read().decode()
form_token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)
page = opener.open(confirm, data=urllib.parse.urlencode({"form_token": form_token}).encode()).read().decode()
print(re.search(r"/preferences/([A-Za-z0-9_-]+)", page).group(1))
