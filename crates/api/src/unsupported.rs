//! The App API paths of Customer.io's official clients that Herald does not implement: they
//! answer a 404 that names the feature and says Herald does not have it, rather than the bare
//! "no route" of a mistyped path. README.md lists them.

/// The feature a path belongs to, when it is one of Customer.io's that Herald lacks.
pub(crate) fn feature(path: &str) -> Option<&'static str> {
    let rest = path.strip_prefix("/v1/")?;
    let mut parts = rest.split('/');
    let first = parts.next()?;
    let second = parts.next();
    let third = parts.next();
    Some(match (first, second, third) {
        ("exports", _, _) => "exports",
        ("subscription_topics" | "subscription_channels" | "subscription_center", _, _) => {
            "the subscription center"
        }
        ("broadcasts" | "newsletters", _, _) => "broadcasts and newsletters",
        ("campaigns", Some(_), Some("triggers")) => "API-triggered broadcasts",
        ("campaigns", Some(_), Some("actions" | "messages" | "journey_metrics")) => {
            "campaign actions, messages and journey metrics"
        }
        ("campaigns" | "transactional", Some(_), Some("metrics"))
            if parts.next() == Some("links") =>
        {
            "link metrics"
        }
        ("send", Some("sms" | "whatsapp" | "inbox_message" | "in_app"), _) => {
            "SMS, WhatsApp, inbox and in-app messages"
        }
        ("transactional", Some(_), Some("language" | "languages" | "translation")) => {
            "transactional message languages"
        }
        ("customers", Some(_), Some("subscription_preferences")) => "subscription preferences",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::feature;

    #[test]
    fn known_features_are_named_and_mistakes_are_not() {
        assert_eq!(feature("/v1/exports/customers"), Some("exports"));
        assert_eq!(
            feature("/v1/campaigns/3/triggers"),
            Some("API-triggered broadcasts")
        );
        assert_eq!(
            feature("/v1/campaigns/3/metrics/links"),
            Some("link metrics")
        );
        assert_eq!(
            feature("/v1/campaigns/3/metrics"),
            None,
            "Herald has campaign metrics"
        );
        assert_eq!(
            feature("/v1/send/sms"),
            Some("SMS, WhatsApp, inbox and in-app messages")
        );
        assert_eq!(
            feature("/v1/transactional/3/language/fr"),
            Some("transactional message languages")
        );
        assert_eq!(
            feature("/v1/transactional/3/metrics/links"),
            Some("link metrics")
        );
        assert_eq!(feature("/v1/transactional/3/deliveries"), None);
        assert_eq!(feature("/v1/segmentz"), None);
        assert_eq!(feature("/api/v1/exports"), None);
    }
}
