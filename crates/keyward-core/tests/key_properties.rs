//! Property tests of the key format: what a scanner, a paste and a typo can do to a key.

use keyward_core::key::{ApiKey, Brand, MAX_KEY_LEN};
use proptest::prelude::*;

fn brand_strategy() -> impl Strategy<Value = Brand> {
    "[a-z]{2,8}".prop_map(|s| Brand::new(&s).unwrap())
}

proptest! {
    #[test]
    fn every_generated_key_parses_back(brand in brand_strategy()) {
        let key = ApiKey::generate(&brand);
        let parsed = ApiKey::parse(key.expose()).unwrap();
        prop_assert_eq!(parsed.brand(), brand.as_str());
        prop_assert_eq!(parsed.id(), key.id());
        prop_assert_eq!(parsed.secret(), key.secret());
        prop_assert!(key.expose().len() <= MAX_KEY_LEN);
    }

    #[test]
    fn any_single_character_change_is_rejected(
        brand in brand_strategy(),
        position in any::<prop::sample::Index>(),
        replacement in any::<char>(),
    ) {
        let key = ApiKey::generate(&brand);
        let mut chars: Vec<char> = key.expose().chars().collect();
        let i = position.index(chars.len());
        prop_assume!(chars[i] != replacement);
        chars[i] = replacement;
        let damaged: String = chars.into_iter().collect();
        prop_assert!(ApiKey::parse(&damaged).is_err(), "accepted {}", i);
    }

    #[test]
    fn any_truncation_is_rejected(brand in brand_strategy(), cut in any::<prop::sample::Index>()) {
        let key = ApiKey::generate(&brand);
        let text = key.expose();
        let keep = cut.index(text.len());
        prop_assert!(ApiKey::parse(&text[..keep]).is_err());
    }

    #[test]
    fn parse_never_panics(input in any::<String>()) {
        let _ = ApiKey::parse(&input);
    }

    #[test]
    fn parse_never_panics_on_key_shaped_input(input in "[a-z]{0,9}_[0-9A-Za-z_ é]{0,60}") {
        let _ = ApiKey::parse(&input);
    }
}
