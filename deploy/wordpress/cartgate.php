<?php
/**
 * Plugin Name: cartgate
 * Description: WordPress side of cartgate (contract §8). Makes the customer that cartgate's nginx guard authenticated the current user, tells cartgate about account changes through an outbox table, keeps cartgate's routes out of WordPress's REST router, and gives a customer logged in with WordPress's cookie a cartgate token pair (POST /wp-json/wp-cartgate/v1/token).
 * Version: 1.0.0
 * Requires at least: 6.1
 * Requires PHP: 7.4
 * License: MIT
 *
 * A must-use plugin: copy this one file into wp-content/mu-plugins/. See
 * deploy/wordpress/README.md for the trust model and the outbox's definition.
 */

namespace Cartgate {

	defined( 'ABSPATH' ) || exit;

	/** Version of the outbox table's definition; bumped when create_outbox() changes. */
	const OUTBOX_SCHEMA = 1;

	/** What a row may say. A row is a hint to look at the user again, nothing more. */
	const EVENTS = array( 'user_changed', 'password_changed', 'user_deleted' );

	/**
	 * REST routes that belong to cartgate. nginx sends them to cartgate under their
	 * usual spellings; removing them from WordPress's route table covers every other
	 * spelling WordPress would accept (rest_route in a query or a form body, percent
	 * encoding, any letter case, a trailing newline), so a login never skips cartgate's
	 * rate limits, two-factor and rules by way of a WordPress plugin's own handler.
	 * WordPress then answers 404 rest_no_route, the contract's answer.
	 */
	const OWNED_ROUTES = '#^/(?:cocart/v[0-9]+/log(?:in|out)|cocart/jwt|two-factor|cartgate)(?:/|$)#i';

	// ---- identity ------------------------------------------------------------------

	/**
	 * The customer cartgate vouched for, as nginx's guard (cartgate-protect.conf with
	 * cartgate-fastcgi-params.conf) passed it: FastCGI parameters, which only nginx's
	 * configuration can set. A client's X-Cartgate-User-Id header would arrive as
	 * HTTP_X_CARTGATE_USER_ID and is never read. Null on a request nginx did not guard.
	 *
	 * @return array{user_id:int,login:string,session:string}|null
	 */
	function identity() {
		if ( ! isset( $_SERVER['CARTGATE_USER_ID'] ) ) {
			return null;
		}
		$id = (string) $_SERVER['CARTGATE_USER_ID'];
		return array(
			// A malformed id (which the guard never sends) names nobody rather than guessing.
			'user_id' => ( 1 === preg_match( '/^[1-9][0-9]{0,18}$/', $id ) ) ? (int) $id : 0,
			'login'   => isset( $_SERVER['CARTGATE_USER_LOGIN'] ) ? (string) $_SERVER['CARTGATE_USER_LOGIN'] : '',
			'session' => isset( $_SERVER['CARTGATE_SESSION'] ) ? (string) $_SERVER['CARTGATE_SESSION'] : '',
		);
	}

	/**
	 * The WordPress user id for cartgate's identity, or 0. The login must match too: ids
	 * agree only once cartgate's accounts come from this WordPress (import keeps ids), and
	 * a mismatch must never turn a customer into whoever holds that id here.
	 */
	function identity_user_id( array $who ) {
		if ( $who['user_id'] <= 0 || '' === $who['login'] ) {
			return 0;
		}
		$user = get_userdata( $who['user_id'] );
		if ( ! $user ) {
			return 0;
		}
		if ( 0 !== strcasecmp( $user->user_login, $who['login'] ) ) {
			error_log( sprintf( 'cartgate: token user %d is "%s" in cartgate but "%s" in WordPress; treated as logged out', $who['user_id'], $who['login'], $user->user_login ) );
			return 0;
		}
		return (int) $user->ID;
	}

	// Last in line, so a WordPress login cookie on the same request cannot win: on a
	// guarded request the token is the credential, and a request whose identity does not
	// resolve is nobody's.
	add_filter(
		'determine_current_user',
		function ( $user_id ) {
			static $resolved = null;
			$who = identity();
			if ( null === $who ) {
				return $user_id;
			}
			if ( null === $resolved ) {
				$resolved = identity_user_id( $who );
			}
			return $resolved ?: false;
		},
		PHP_INT_MAX
	);

	// WordPress's REST API logs out a cookie-authenticated user whose request has no
	// nonce (rest_cookie_check_errors, priority 100), its defence against cross-site
	// requests riding on the cookie. A guarded request is authenticated by a Bearer token
	// that a browser never attaches on its own, so it needs no nonce; answering "checked"
	// just before that filter keeps the cookie rule out of it. Errors other
	// authentication filters raised are left as they are.
	add_filter(
		'rest_authentication_errors',
		function ( $result ) {
			if ( ! empty( $result ) || null === identity() ) {
				return $result;
			}
			return is_user_logged_in() ? true : $result;
		},
		99
	);

	// nginx clears these headers (cartgate-fastcgi-params.conf); dropping them here as
	// well keeps code that reads $_SERVER from believing a client's copy if a location
	// missed the include.
	foreach ( array_keys( $_SERVER ) as $key ) {
		if ( 0 === strpos( $key, 'HTTP_X_CARTGATE_' ) ) {
			unset( $_SERVER[ $key ] );
		}
	}

	add_filter(
		'rest_endpoints',
		function ( $endpoints ) {
			foreach ( array_keys( $endpoints ) as $route ) {
				if ( preg_match( OWNED_ROUTES, $route ) ) {
					unset( $endpoints[ $route ] );
				}
			}
			return $endpoints;
		},
		PHP_INT_MAX
	);

	// ---- cookie → token -------------------------------------------------------------

	/**
	 * Cookie → token: POST /wp-json/wp-cartgate/v1/token gives a customer who is logged in
	 * to the store (WordPress's login cookie, with WordPress's REST nonce for it in
	 * X-WP-Nonce, action wp_rest) a cartgate token pair, without the password again. The
	 * answer is cartgate's login answer (extras.jwt_token, extras.jwt_refresh) or its
	 * error, passed on as it is.
	 *
	 * WordPress asks cartgate over its internal socket (server.auth_socket, a unix socket
	 * nginx only ever proxies its own auth subrequest to), with a request signed by a key
	 * only cartgate and PHP-FPM's user can read (secrets.storefront_key_file):
	 * HMAC-SHA256 over the time, method, path and body, and a nonce cartgate accepts once.
	 * A customer can neither reach that socket nor sign for it. The route exists only
	 * where wp-config.php names the key:
	 *
	 *   define( 'CARTGATE_STOREFRONT_KEY_FILE', '/etc/cartgate/storefront_key' );
	 *   define( 'CARTGATE_INTERNAL_SOCKET', '/run/cartgate/cartgate-auth.sock' );  // the default
	 *
	 * cartgate applies a login's rules to it (session cap, the token bound to the address
	 * and User-Agent nginx saw, the permission rules). A user with two-factor on (in
	 * cartgate, or in a WordPress two-factor plugin) gets tokens only if this WordPress
	 * login passed a second factor, as the Two Factor plugin records it in the login's
	 * session ("two-factor-login"), or as the filter cartgate_second_factor says.
	 */
	const TOKEN_NAMESPACE = 'wp-cartgate/v1';

	/** The route on cartgate's internal socket, and part of what is signed. */
	const STOREFRONT_TOKEN_PATH = '/_cartgate/storefront/token';

	/** Request headers that never go to cartgate: credentials of the WordPress login. */
	const WITHHELD_HEADERS = '#^(?:cookie|authorization|x-wp-nonce|x-cartgate-.*)$#';

	/** @return array{key_file:string,socket:string}|null Null: cookie → token is off. */
	function storefront_settings() {
		if ( ! defined( 'CARTGATE_STOREFRONT_KEY_FILE' ) || '' === (string) CARTGATE_STOREFRONT_KEY_FILE ) {
			return null;
		}
		return array(
			'key_file' => (string) CARTGATE_STOREFRONT_KEY_FILE,
			'socket'   => defined( 'CARTGATE_INTERNAL_SOCKET' ) ? (string) CARTGATE_INTERNAL_SOCKET : '/run/cartgate/cartgate-auth.sock',
		);
	}

	/** The answer when cartgate cannot be asked: the contract's 503. */
	function cartgate_unavailable() {
		return new \WP_Error( 'cocart_service_unavailable', 'The service is temporarily unavailable. Please try again shortly.', array( 'status' => 503 ) );
	}

	/**
	 * Who may ask: the user of WordPress's own login cookie, on a request carrying a valid
	 * wp_rest nonce for it. Not a user of an application password or of a token nginx's
	 * guard vouched for (they have credentials of their own), and never without the nonce,
	 * which is what keeps another site from using the customer's cookie: WordPress drops a
	 * cookie login without a nonce (rest_cookie_check_errors), and this checks once more.
	 */
	function cookie_login_permitted( \WP_REST_Request $request ) {
		$user_id = get_current_user_id();
		$cookie  = defined( 'LOGGED_IN_COOKIE' ) && isset( $_COOKIE[ LOGGED_IN_COOKIE ] ) ? (string) $_COOKIE[ LOGGED_IN_COOKIE ] : '';
		if ( null !== identity() || ! $user_id || '' === $cookie || (int) wp_validate_auth_cookie( $cookie, 'logged_in' ) !== $user_id ) {
			return new \WP_Error( 'rest_not_logged_in', 'You are not currently logged in.', array( 'status' => 401 ) );
		}
		$nonce = $request->get_header( 'X-WP-Nonce' );
		if ( null === $nonce ) {
			$nonce = $request->get_param( '_wpnonce' );
		}
		if ( ! is_string( $nonce ) || ! wp_verify_nonce( $nonce, 'wp_rest' ) ) {
			return new \WP_Error( 'rest_cookie_invalid_nonce', 'Cookie check failed', array( 'status' => 403 ) );
		}
		return true;
	}

	/**
	 * Whether the user has a second factor in WordPress, and whether this login passed
	 * one: the Two Factor plugin's answer when it is active, its mark in the login's
	 * session ("two-factor-login") otherwise; another two-factor plugin says so through
	 * the filter cartgate_second_factor.
	 *
	 * @return array{enrolled:bool,passed:bool}
	 */
	function second_factor_state( $user_id ) {
		$enrolled = false;
		$passed   = false;
		if ( class_exists( '\Two_Factor_Core' ) ) {
			$enrolled = (bool) \Two_Factor_Core::is_user_using_two_factor( $user_id );
			if ( method_exists( '\Two_Factor_Core', 'is_current_user_session_two_factor' ) ) {
				$passed = (bool) \Two_Factor_Core::is_current_user_session_two_factor();
			}
		}
		if ( ! $passed ) {
			$session = \WP_Session_Tokens::get_instance( $user_id )->get( wp_get_session_token() );
			$passed  = is_array( $session ) && ! empty( $session['two-factor-login'] );
		}
		/**
		 * Filters what cartgate is told about the current login's second factor.
		 *
		 * @param array{enrolled:bool,passed:bool} $state
		 * @param int                              $user_id
		 */
		$state = apply_filters( 'cartgate_second_factor', array( 'enrolled' => $enrolled, 'passed' => $passed ), $user_id );
		return array(
			'enrolled' => is_array( $state ) && ! empty( $state['enrolled'] ),
			'passed'   => is_array( $state ) && ! empty( $state['passed'] ),
		);
	}

	/** The customer's request headers as nginx passed them (names in lower case), minus credentials. */
	function customer_headers() {
		$headers = array();
		foreach ( $_SERVER as $key => $value ) {
			if ( 0 !== strpos( $key, 'HTTP_' ) || ! is_string( $value ) ) {
				continue;
			}
			$name = strtolower( str_replace( '_', '-', substr( $key, 5 ) ) );
			if ( ! preg_match( WITHHELD_HEADERS, $name ) ) {
				$headers[ $name ] = $value;
			}
		}
		return $headers;
	}

	/**
	 * One HTTP/1.1 request to cartgate's internal unix socket.
	 *
	 * @return array{status:int,body:mixed}|\WP_Error
	 */
	function internal_post( $socket, $path, $body, $signature ) {
		$fp = @stream_socket_client( 'unix://' . $socket, $errno, $errstr, 2.0 );
		if ( ! $fp ) {
			error_log( sprintf( 'cartgate: cannot reach %s: %s', $socket, $errstr ) );
			return cartgate_unavailable();
		}
		stream_set_timeout( $fp, 10 );
		$out = "POST $path HTTP/1.1\r\nHost: cartgate\r\nContent-Type: application/json\r\n"
			. 'Content-Length: ' . strlen( $body ) . "\r\nX-Cartgate-Signature: $signature\r\nConnection: close\r\n\r\n" . $body;
		for ( $sent = 0; $sent < strlen( $out ); $sent += $n ) {
			$n = fwrite( $fp, substr( $out, $sent ) );
			if ( false === $n || 0 === $n ) {
				fclose( $fp );
				return cartgate_unavailable();
			}
		}
		$raw = stream_get_contents( $fp );
		fclose( $fp );
		$split = is_string( $raw ) ? strpos( $raw, "\r\n\r\n" ) : false;
		if ( false === $split || ! preg_match( '#^HTTP/1\.[01] ([0-9]{3}) #', $raw, $m ) ) {
			error_log( 'cartgate: no HTTP answer on ' . $socket );
			return cartgate_unavailable();
		}
		$data = json_decode( substr( $raw, $split + 4 ), true );
		if ( null === $data ) {
			return cartgate_unavailable();
		}
		return array( 'status' => (int) $m[1], 'body' => $data );
	}

	/** The route's callback: cartgate's answer for the cookie's user. */
	function token_from_cookie( \WP_REST_Request $request ) {
		$settings = storefront_settings();
		$key      = is_readable( $settings['key_file'] ) ? rtrim( (string) file_get_contents( $settings['key_file'] ), "\r\n" ) : '';
		if ( strlen( $key ) < 32 ) {
			error_log( 'cartgate: CARTGATE_STOREFRONT_KEY_FILE is unreadable or shorter than 32 bytes' );
			return cartgate_unavailable();
		}
		$user   = wp_get_current_user();
		$params = array();
		foreach ( array_merge( (array) $request->get_body_params(), (array) $request->get_json_params() ) as $name => $value ) {
			if ( '_wpnonce' !== $name && is_scalar( $value ) ) {
				$params[ $name ] = $value;
			}
		}
		$body = wp_json_encode(
			array(
				'user_id'       => (int) $user->ID,
				'login'         => $user->user_login,
				'nonce'         => bin2hex( random_bytes( 16 ) ),
				'remote_addr'   => isset( $_SERVER['REMOTE_ADDR'] ) ? (string) $_SERVER['REMOTE_ADDR'] : '',
				'headers'       => (object) customer_headers(),
				'params'        => (object) $params,
				'second_factor' => second_factor_state( (int) $user->ID ),
			)
		);
		$now       = time();
		$signature = 't=' . $now . ',v1=' . hash_hmac( 'sha256', $now . "\nPOST\n" . STOREFRONT_TOKEN_PATH . "\n" . $body, $key );
		$answer    = internal_post( $settings['socket'], STOREFRONT_TOKEN_PATH, $body, $signature );
		if ( is_wp_error( $answer ) ) {
			return $answer;
		}
		$response = new \WP_REST_Response( $answer['body'], $answer['status'] );
		$response->header( 'Cache-Control', 'no-store' );
		return $response;
	}

	add_action(
		'rest_api_init',
		function () {
			if ( null === storefront_settings() ) {
				return;
			}
			register_rest_route(
				TOKEN_NAMESPACE,
				'/token',
				array(
					'methods'             => 'POST',
					'callback'            => __NAMESPACE__ . '\token_from_cookie',
					'permission_callback' => __NAMESPACE__ . '\cookie_login_permitted',
				)
			);
		}
	);

	// ---- outbox --------------------------------------------------------------------

	/**
	 * The outbox: one row per account change, written after the change. cartgate reads
	 * the rows in id order, applies the user's current wp_users/wp_usermeta row (or its
	 * absence) and deletes the rows it read. Rows hold no data of their own, so a
	 * duplicate row costs one extra read and a row written while cartgate is down waits.
	 * Users are network-wide on multisite, so the table takes the base prefix, like
	 * wp_users.
	 */
	function outbox_table() {
		global $wpdb;
		return $wpdb->base_prefix . 'cartgate_outbox';
	}

	/** Creates the outbox if it is missing; true when it exists afterwards. */
	function create_outbox() {
		global $wpdb;
		$table = outbox_table();
		return false !== $wpdb->query(
			"CREATE TABLE IF NOT EXISTS `$table` (
				id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
				user_id BIGINT UNSIGNED NOT NULL,
				event VARCHAR(32) NOT NULL,
				created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
			) ENGINE=InnoDB " . $wpdb->get_charset_collate()
		);
	}

	/** Records that $user_id changed. Never fails the change itself: errors are logged. */
	function record( $user_id, $event ) {
		global $wpdb;
		$user_id = (int) $user_id;
		if ( $user_id <= 0 || ! in_array( $event, EVENTS, true ) ) {
			return;
		}
		// One row per hook, no dedupe: a row skipped because an earlier one looked pending
		// could be the one written after cartgate had already read that earlier one.
		$insert = $wpdb->prepare( 'INSERT INTO `' . outbox_table() . '` (user_id, event) VALUES (%d, %s)', $user_id, $event );
		if ( false !== $wpdb->query( $insert ) ) {
			return;
		}
		// The table may be missing (first use, or dropped): make it and try once more.
		if ( create_outbox() && false !== $wpdb->query( $insert ) ) {
			return;
		}
		error_log( sprintf( 'cartgate: could not record %s for user %d in %s: %s', $event, $user_id, outbox_table(), $wpdb->last_error ) );
	}

	// The outbox is made once per site (and again by record() if it goes missing).
	add_action(
		'init',
		function () {
			if ( ! wp_installing() && OUTBOX_SCHEMA !== (int) get_site_option( 'cartgate_outbox_schema' ) && create_outbox() ) {
				update_site_option( 'cartgate_outbox_schema', OUTBOX_SCHEMA );
			}
		},
		0
	);

	/** The user's current password hash, read past every cache. */
	function stored_hash( $user_id ) {
		global $wpdb;
		return (string) $wpdb->get_var( $wpdb->prepare( "SELECT user_pass FROM {$wpdb->users} WHERE ID = %d", $user_id ) );
	}

	add_action(
		'user_register',
		function ( $user_id ) {
			record( $user_id, 'user_changed' );
		}
	);

	add_action(
		'profile_update',
		function ( $user_id, $old_user_data ) {
			$old_hash = is_object( $old_user_data ) && isset( $old_user_data->user_pass ) ? (string) $old_user_data->user_pass : '';
			record( $user_id, '' !== $old_hash && stored_hash( $user_id ) !== $old_hash ? 'password_changed' : 'user_changed' );
		},
		10,
		2
	);

	// wp_set_password (fired by core from 6.2 on, and by this plugin's own copy on 6.1,
	// see the end of this file) and a completed "lost password" reset.
	add_action(
		'wp_set_password',
		function ( $password, $user_id ) {
			record( $user_id, 'password_changed' );
		},
		10,
		2
	);
	add_action(
		'after_password_reset',
		function ( $user ) {
			record( is_object( $user ) ? $user->ID : 0, 'password_changed' );
		}
	);

	foreach ( array( 'set_user_role', 'add_user_role', 'remove_user_role' ) as $hook ) {
		add_action(
			$hook,
			function ( $user_id ) {
				record( $user_id, 'user_changed' );
			}
		);
	}

	/** Whether a user meta key is one cartgate keeps: names, phone, roles (any site's). */
	function watched_meta_key( $key ) {
		global $wpdb;
		if ( in_array( $key, array( 'first_name', 'last_name', 'billing_phone' ), true ) ) {
			return true;
		}
		return 1 === preg_match( '/^' . preg_quote( $wpdb->base_prefix, '/' ) . '(?:[0-9]+_)?capabilities$/', (string) $key );
	}

	foreach ( array( 'added_user_meta', 'updated_user_meta', 'deleted_user_meta' ) as $hook ) {
		add_action(
			$hook,
			function ( $meta_ids, $user_id, $meta_key ) {
				if ( watched_meta_key( $meta_key ) ) {
					record( $user_id, 'user_changed' );
				}
			},
			10,
			3
		);
	}

	// deleted_user fires once the user's rows are gone, both for wp_delete_user and for
	// multisite's wpmu_delete_user. delete_user and wpmu_delete_user fire before: cartgate
	// reading the user at that moment would find it still there, so a row then says
	// nothing the later one does not. On multisite, wp_delete_user only takes the user
	// off one site; the account stays, so that is a change, not a deletion.
	add_action(
		'deleted_user',
		function ( $user_id ) {
			global $wpdb;
			$still_there = $wpdb->get_var( $wpdb->prepare( "SELECT ID FROM {$wpdb->users} WHERE ID = %d", $user_id ) );
			record( $user_id, null === $still_there ? 'user_deleted' : 'user_changed' );
		}
	);
}

namespace {

	/*
	 * WordPress 6.1's wp_set_password() changes the hash without any hook (6.2 added the
	 * wp_set_password action). This is core's 6.1 function plus that action, defined
	 * only where core's would be: must-use plugins load before pluggable.php, and a
	 * plugin that replaces the function itself is left alone, as is 6.2 and later.
	 */
	if ( ! function_exists( 'wp_set_password' ) && version_compare( $GLOBALS['wp_version'], '6.2-alpha', '<' ) ) {
		function wp_set_password( $password, $user_id ) {
			global $wpdb;

			$hash = wp_hash_password( $password );
			$wpdb->update(
				$wpdb->users,
				array(
					'user_pass'           => $hash,
					'user_activation_key' => '',
				),
				array( 'ID' => $user_id )
			);

			clean_user_cache( $user_id );

			/** This action is documented in WordPress 6.2's wp-includes/pluggable.php. */
			do_action( 'wp_set_password', $password, $user_id );
		}
	}
}
