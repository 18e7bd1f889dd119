// The tables of both migration trees (migrations/sqlite and migrations/postgres).

diesel::table! {
    use diesel::sql_types::*;

    clients (client_id) {
        client_id -> Text,
        name -> Text,
        secret_hash -> Nullable<Text>,
        auth_methods -> Text,
        grant_types -> Text,
        redirect_uris -> Text,
        scopes -> Text,
        resources -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        post_logout_redirect_uris -> Text,
        id_token_alg -> Text,
        jwks -> Nullable<Text>,
        jwks_uri -> Nullable<Text>,
        dpop_bound -> Bool,
        require_par -> Bool,
        registered_by -> Text,
        registration_token_hash -> Nullable<Text>,
        metadata -> Text,
        last_sign_in_at -> Nullable<BigInt>,
        disabled_at -> Nullable<BigInt>,
        tokens_not_before -> Nullable<BigInt>,
        introspects_any -> Bool,
        backchannel_logout_uri -> Nullable<Text>,
        backchannel_logout_session_required -> Bool,
        secret_reported_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::DbUuid;

    users (id) {
        id -> DbUuid,
        username -> Text,
        username_key -> Nullable<Text>,
        email -> Nullable<Text>,
        password_hash -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        name -> Nullable<Text>,
        email_verified -> Bool,
        api_scopes -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::DbUuid;

    sessions (id) {
        id -> DbUuid,
        token_hash -> Text,
        user_id -> DbUuid,
        auth_time -> BigInt,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        mfa_pending -> Bool,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        amr -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::DbUuid;

    consents (user_id, client_id) {
        user_id -> DbUuid,
        client_id -> Text,
        scope -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::DbUuid;

    authorization_codes (code_hash) {
        code_hash -> Text,
        client_id -> Text,
        user_id -> DbUuid,
        session_id -> Nullable<DbUuid>,
        redirect_uri -> Text,
        redirect_uri_given -> Bool,
        scope -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Text,
        auth_time -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        consumed_at -> Nullable<BigInt>,
        issued_jti -> Nullable<Text>,
        issued_exp -> Nullable<BigInt>,
        family_id -> Nullable<DbUuid>,
        dpop_jkt -> Nullable<Text>,
        resources -> Text,
        amr -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    revoked_tokens (jti) {
        jti -> Text,
        expires_at -> BigInt,
        revoked_at -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::DbUuid;

    token_families (id) {
        id -> DbUuid,
        client_id -> Text,
        user_id -> DbUuid,
        scope -> Text,
        auth_time -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        revoked_reason -> Nullable<Text>,
        dpop_jkt -> Nullable<Text>,
        resources -> Text,
        last_used_at -> Nullable<BigInt>,
        last_used_ip -> Nullable<Text>,
        amr -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::DbUuid;

    refresh_tokens (token_hash) {
        token_hash -> Text,
        family_id -> DbUuid,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        access_jti -> Text,
        access_exp -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::DbUuid;

    user_totp (user_id) {
        user_id -> DbUuid,
        secret_sealed -> Text,
        created_at -> BigInt,
        enabled_at -> Nullable<BigInt>,
        last_used_step -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::DbUuid;

    recovery_codes (code_hash) {
        code_hash -> Text,
        user_id -> DbUuid,
        created_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::DbUuid;

    personal_tokens (id) {
        id -> DbUuid,
        user_id -> DbUuid,
        name -> Text,
        token_hash -> Text,
        scope -> Text,
        allowed_ips -> Text,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
        last_used_ip -> Nullable<Text>,
        live_name -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::DbUuid;

    audit_events (id) {
        id -> DbUuid,
        at -> BigInt,
        kind -> Text,
        user_id -> Nullable<DbUuid>,
        client_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        outcome -> Text,
        details -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::DbUuid;

    personal_token_addresses (token_id, ip) {
        token_id -> DbUuid,
        ip -> Text,
        first_seen_at -> BigInt,
        last_event_at -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    throttle_counters (key) {
        key -> Text,
        window_start -> BigInt,
        attempts -> BigInt,
    }
}

diesel::joinable!(consents -> clients (client_id));
diesel::joinable!(refresh_tokens -> token_families (family_id));
diesel::allow_tables_to_appear_in_same_query!(
    clients,
    consents,
    users,
    sessions,
    token_families,
    refresh_tokens
);

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::DbUuid;

    authorization_transactions (id_hash) {
        id_hash -> Text,
        binding_hash -> Text,
        client_id -> Text,
        params -> Text,
        session_id -> Nullable<DbUuid>,
        authenticated_at -> Nullable<BigInt>,
        created_at -> BigInt,
        expires_at -> BigInt,
        completed_at -> Nullable<BigInt>,
        pushed -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        state -> Text,
        sealed_key -> Text,
        created_at -> BigInt,
        activated_at -> Nullable<BigInt>,
        retired_at -> Nullable<BigInt>,
        published_until -> Nullable<BigInt>,
        hints_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    key_set (id) {
        id -> Integer,
        version -> BigInt,
        longest_token_ttl -> BigInt,
        longest_session -> BigInt,
        access_alg -> Text,
    }
}

diesel::table! {
    used_jtis (key) {
        key -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    pushed_requests (uri_hash) {
        uri_hash -> Text,
        client_id -> Text,
        params -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    registration_tokens (id) {
        id -> Text,
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        max_uses -> Nullable<BigInt>,
        uses -> BigInt,
        revoked_at -> Nullable<BigInt>,
        allow_introspection -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::DbUuid;

    reset_tokens (id) {
        id -> Text,
        token_hash -> Text,
        user_id -> DbUuid,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::DbUuid;

    passkeys (id) {
        id -> DbUuid,
        user_id -> DbUuid,
        credential_id -> Text,
        name -> Text,
        passkey -> Text,
        sign_count -> BigInt,
        backup_eligible -> Bool,
        backed_up -> Bool,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::DbUuid;

    webauthn_ceremonies (id) {
        id -> Text,
        binding_hash -> Text,
        purpose -> Text,
        user_id -> Nullable<DbUuid>,
        session_id -> Nullable<DbUuid>,
        state -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::DbUuid;

    session_clients (session_id, client_id) {
        session_id -> DbUuid,
        client_id -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::DbUuid;

    outbox (id) {
        id -> DbUuid,
        kind -> Text,
        dedupe_key -> Text,
        target -> Text,
        payload -> Text,
        created_at -> BigInt,
        next_attempt_at -> BigInt,
        attempts -> BigInt,
        lease_until -> Nullable<BigInt>,
        finished_at -> Nullable<BigInt>,
        outcome -> Nullable<Text>,
        last_error -> Nullable<Text>,
    }
}
