# Helpers of rules/data.smk (its inputs, params and outputs).


def archive_name():
    return Path(urlparse(DATA["url"]).path).name


def archive_key():
    """The extraction folder's name: the archive's checksum (or its URL's hash without one)."""
    checksum = DATA.get("sha256") or DATA.get("md5")
    return checksum or f"url-{hashlib.sha256(DATA['url'].encode()).hexdigest()[:16]}"


def archive_identity():
    """What determines the downloaded archive: its checksums, or its URL when there is none (a
    mirror with the same checksum downloads nothing again; the script reads the URL from config).
    """
    checksums = {k: DATA[k] for k in ("md5", "sha256") if DATA.get(k)}
    return checksums or {"url": DATA["url"]}


def data_inputs(wildcards):
    if DATA["source"] == "url":
        return [P.fill(P.MANIFEST, key=archive_key())]
    return []


def data_params():
    """The data slice that determines the index: the keys its source uses, defaults filled in."""
    used = {
        "digits": ("image_size", "val_fraction"),
        "imagefolder": ("path",),
        "url": ("subdir",),
    }[DATA["source"]]
    params = {"source": DATA["source"], **{k: DATA[k] for k in used if k in DATA}}
    if DATA["source"] == "digits":
        params["seed"] = config["seed"]
    if DATA["source"] == "imagefolder":
        params["content"] = folder_digest(
            DATA["path"],
            P.IMAGE_EXTENSIONS,
            Path(".snakemake") / "xaisim" / "digests.json",
        )
    if DATA["source"] == "url":
        params["archive"] = archive_key()
    return canonical(params)
