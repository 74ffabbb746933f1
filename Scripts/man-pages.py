#!/usr/bin/env python3
"""Finishes the man pages swift-argument-parser's generate-manual plugin makes.

    Scripts/man-pages.sh           # runs the plugin, then this, into docs/man

For every page: each option's default (from `letterbox ... --experimental-dump-help`) is added
after its description, and the plugin's bare EXIT STATUS section is replaced by the page's own
sections from docs/man/sections/<page> (EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES, SEE ALSO),
when that file exists.

    man-pages.py GENERATED_DIR LETTERBOX_BINARY OUTPUT_DIR
"""
import json
import os
import re
import subprocess
import sys

# Defaults that depend on the machine the pages are made on.
MACHINE_DEFAULTS = {"hostname": "the system's host name"}


def defaults(binary, command):
    dumped = subprocess.run([binary] + command + ["--experimental-dump-help"], capture_output=True, text=True, check=True)
    result = {}
    for argument in json.loads(dumped.stdout)["command"].get("arguments", []):
        name = (argument.get("preferredName") or {}).get("name")
        if name is None:
            continue
        value = MACHINE_DEFAULTS.get(name, argument.get("defaultValue"))
        if value is not None and argument.get("kind") == "option":
            result[name] = value
    return result


def finish(page_path, binary, sections_dir):
    name = os.path.basename(page_path)
    command = name[len("letterbox."):-2].split(".") if name != "letterbox.1" else []
    if command == ["help"]:
        return open(page_path).read()
    text = open(page_path).read()
    known = defaults(binary, command)
    lines = text.split("\n")
    out = []
    index = 0
    while index < len(lines):
        line = lines[index]
        out.append(line)
        match = re.match(r"^\.It Fl -([a-z0-9-]+)(?: Ar .*)?$", line)
        if match and match.group(1) in known:
            # The description runs to the next .It, .Pp or .El.
            index += 1
            while index < len(lines) and not re.match(r"^\.(It|Pp|El)\b", lines[index]):
                out.append(lines[index])
                index += 1
            out.append("Default: " + known[match.group(1)] + ".")
            continue
        index += 1
    text = "\n".join(out)
    extra = os.path.join(sections_dir, name)
    if os.path.exists(extra):
        text = re.sub(r'\.Sh "EXIT STATUS"\n\.Ex -std\.?', "", text).rstrip("\n") + "\n" + open(extra).read()
    return text


def configuration_page(binary, sections_dir, date):
    """letterbox.conf(5): its own text, with a SETTINGS list made from serve's options."""
    dumped = subprocess.run([binary, "serve", "--experimental-dump-help"], capture_output=True, text=True, check=True)
    items = []
    for argument in json.loads(dumped.stdout)["command"].get("arguments", []):
        name = (argument.get("preferredName") or {}).get("name")
        if name in (None, "help", "version", "config") or argument.get("kind") == "positional":
            continue
        value = "true | false" if argument.get("kind") == "flag" else (argument.get("valueName") or name)
        text = " ".join((argument.get("abstract") or "").split())
        default = MACHINE_DEFAULTS.get(name, argument.get("defaultValue"))
        if argument.get("kind") == "flag":
            default = "false"
        items.append(".It Cm %s No = Ar %s\n%s%s" % (name, value, text, ("\nDefault: %s." % default) if default else ""))
    page = open(os.path.join(sections_dir, "letterbox.conf.5")).read()
    return page.replace("@DATE@", date).replace("@SETTINGS@", "\n".join(items))


def main():
    generated, binary, output = sys.argv[1:4]
    sections = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "man", "sections")
    date = None
    for name in sorted(os.listdir(generated)):
        if name.endswith(".1"):
            text = finish(os.path.join(generated, name), binary, sections)
            date = date or re.search(r"^\.Dd (.*)$", text, re.M).group(1)
            with open(os.path.join(output, name), "w") as page:
                page.write(text)
    with open(os.path.join(output, "letterbox.conf.5"), "w") as page:
        page.write(configuration_page(binary, sections, date))


if __name__ == "__main__":
    main()
